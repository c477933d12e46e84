// Package email is Kanri's mail edge: it turns raw RFC 5322 mail into a
// decoded Message, tells human mail from automatic mail, finds the case a
// reply belongs to, builds outbound notifications with deterministic
// Message-IDs, sends them over SMTP, and pulls new mail from IMAP mailboxes.
//
// The package holds no process logic and no persistence of its own. The
// intake Poller hands every message to a Handler and only moves it out of the
// intake folder after the Handler reports success; the cursor of each mailbox
// and the daily per-recipient counters live behind small interfaces that the
// application wires to its store.
//
// Everything that reads mail is written for hostile and broken input: Parse
// never fails on an unknown charset or an undecodable header (it records a
// warning and falls back), size limits apply before bytes are kept, and a
// structurally broken message yields a *ParseError the caller can file away
// with its reason.
package email
