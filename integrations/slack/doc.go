// Package slack is Kanri's chat edge on Slack: slash commands and modals
// that open cases, approval messages whose Approve and Reject buttons act on
// the case, and delivery of the outbox notifications addressed to Slack.
//
// Like every edge it is thin: it translates what Slack sends into the same
// case commands the HTTP API uses (Cases) and holds no process logic. The
// workflow decides, at the time of the click, whether an approver may
// approve; this package only names the actor and carries the answer back.
//
// # Transports
//
// Slack reaches Kanri over HTTP (POST /slack/commands, /slack/interactions
// and /slack/events, served by Connector.Handler) or, for installations
// without a public URL, over Socket Mode (Connector.RunSocketMode). Both feed
// one dispatcher (Connector.Dispatch) with the transport-neutral Inbound.
// HTTP requests are verified on the raw body before anything is parsed: the
// v0 HMAC-SHA256 signature with the signing secret, a five-minute window
// around X-Slack-Request-Timestamp, and a ReplayCache keyed by the signature,
// so a captured request cannot be sent twice. The team must be the configured
// workspace. Refusals are answered 401 and logged with their reason.
//
// Every request is answered at once (Slack gives three seconds); the work
// runs afterwards on a bounded set of goroutines, each with a deadline, and
// reports back through the request's response_url, a modal, a DM or
// chat.update. Events are de-duplicated by event_id, so a retry
// (X-Slack-Retry-Num) is acknowledged without the work being done again.
//
// # Persistence
//
// The connector keeps no state of its own in memory beyond caches. What must
// survive a restart is behind small interfaces the application wires to its
// store: Directory (who a Slack user is, and the one-time link codes),
// Messages (the channel and ts of every message posted for a case, so that
// retries update instead of posting twice, and decisions update every
// approver's message), ReplayCache (signatures and event ids seen) and
// Outbox (the notifications table). Memory implementations of the first
// three are in this package for tests and single-process development.
//
// # Notification routing
//
// The Notifier delivers outbox notifications of channel "slack". The
// recipient decides where a notification goes:
//
//   - "group:<id>" with event approval_requested: an approval message (with
//     Approve and Reject) by DM to every member of the group with a Slack
//     account, and one to the approvals channel when configured;
//   - "group:<id>" with any other event: the group's channel (config groups);
//   - "channel:major_incidents": one thread per case in the major-incident
//     channel; the first notification of a case starts it;
//   - "channel:approvals": the approvals channel;
//   - anything else is a Kanri user id: a DM to that user's Slack account.
//     Event "resolved" on an incident carries Confirm and Reopen buttons.
//
// Whatever the recipient, a notification of a case that has approval
// messages first brings every one of them up to date (chat.update).
package slack
