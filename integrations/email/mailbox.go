package email

import (
	"context"
	"crypto/tls"
	"sync"
)

// DefaultMaxMessageSize is the largest mail the intake downloads (25 MiB,
// what most providers accept). Larger mail is refused from its
// RFC822.SIZE, before its body is fetched.
const DefaultMaxMessageSize = 25 << 20

// Mailbox configures one IMAP intake mailbox.
type Mailbox struct {
	// Name identifies the mailbox in the cursor store, logs and the
	// Handler; it must be stable.
	Name string `yaml:"name" json:"name"`
	// Addr is host:port of the IMAP server.
	Addr string `yaml:"addr" json:"addr"`
	// TLS selects implicit TLS (IMAPS, usually port 993).
	TLS bool `yaml:"tls" json:"tls"`
	// StartTLS upgrades a plain connection (port 143); ignored with TLS.
	// With neither, the connection and the password travel in clear text,
	// which only suits a server on the same host.
	StartTLS bool   `yaml:"starttls" json:"starttls"`
	Username string `yaml:"username" json:"username"`
	Password string `yaml:"password" json:"-"`
	// Folder is the intake folder; empty means INBOX.
	Folder string `yaml:"folder" json:"folder"`
	// ProcessedFolder receives mail the Handler accepted. Empty leaves such
	// mail in Folder, marked \Seen; the cursor alone then keeps it from
	// being handled again.
	ProcessedFolder string `yaml:"processed_folder" json:"processed_folder"`
	// FailedFolder receives mail that could not be parsed or was too large,
	// once the Handler has recorded it. Empty means ProcessedFolder.
	FailedFolder string `yaml:"failed_folder" json:"failed_folder"`
	// MaxSize is the largest mail downloaded, in bytes; 0 means
	// DefaultMaxMessageSize.
	MaxSize int64 `yaml:"max_size" json:"max_size"`
	// TLSConfig overrides TLS settings (a private CA, tests). ServerName
	// defaults to the host of Addr.
	TLSConfig *tls.Config `yaml:"-" json:"-"`
}

func (m Mailbox) folder() string {
	if m.Folder == "" {
		return "INBOX"
	}
	return m.Folder
}

func (m Mailbox) failedFolder() string {
	if m.FailedFolder == "" {
		return m.ProcessedFolder
	}
	return m.FailedFolder
}

func (m Mailbox) maxSize() int64 {
	if m.MaxSize <= 0 {
		return DefaultMaxMessageSize
	}
	return m.MaxSize
}

// Cursor is how far the intake has read a mailbox: every message with a UID
// up to LastUID, under UIDVALIDITY UIDValidity, has been handled. A
// different UIDVALIDITY on the server voids the cursor (the mailbox was
// recreated); the intake then rescans and relies on DedupeKey.
type Cursor struct {
	UIDValidity uint32
	LastUID     uint32
}

// CursorStore persists one Cursor per mailbox name.
type CursorStore interface {
	// Load returns the saved cursor, or the zero Cursor when there is none.
	Load(ctx context.Context, mailbox string) (Cursor, error)
	Save(ctx context.Context, mailbox string, c Cursor) error
}

// MemoryCursorStore is a CursorStore in memory, for tests and for running
// without a database (every restart then rescans what is left in the
// intake folder).
type MemoryCursorStore struct {
	mu      sync.Mutex
	cursors map[string]Cursor
}

// Load implements CursorStore.
func (s *MemoryCursorStore) Load(_ context.Context, mailbox string) (Cursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursors[mailbox], nil
}

// Save implements CursorStore.
func (s *MemoryCursorStore) Save(_ context.Context, mailbox string, c Cursor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cursors == nil {
		s.cursors = map[string]Cursor{}
	}
	s.cursors[mailbox] = c
	return nil
}

// Handler receives each new mail of a mailbox.
//
// raw is the whole message (nil when it was refused for its size), msg the
// parsed message (headers only for oversize mail; possibly nil or partial
// when parsing failed), and parseErr a *ParseError or *OversizeError when
// the mail cannot be processed normally. Handle should record such mail
// with the reason and return nil: the intake then moves it to the failed
// folder.
//
// Returning nil means the mail is safely recorded (committed, or its
// workflow started): only then is it moved out of the intake folder and the
// cursor advanced. An error leaves the mail where it is, and it is handed
// over again on the next poll, so Handle must be idempotent — key it with
// DedupeKey.
type Handler interface {
	Handle(ctx context.Context, mailbox string, uid uint32, raw []byte, msg *Message, parseErr error) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, mailbox string, uid uint32, raw []byte, msg *Message, parseErr error) error

// Handle implements Handler.
func (f HandlerFunc) Handle(ctx context.Context, mailbox string, uid uint32, raw []byte, msg *Message, parseErr error) error {
	return f(ctx, mailbox, uid, raw, msg, parseErr)
}
