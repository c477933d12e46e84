package email

import (
	"net/mail"
	"net/textproto"
	"time"
)

// Message is a parsed inbound mail. Text fields are UTF-8 with "\n" line
// endings, whatever the charset and line endings on the wire.
type Message struct {
	// MessageID is the normalized Message-ID (see NormalizeMessageID),
	// empty when the header is missing or unusable.
	MessageID string
	// InReplyTo is the first normalized id of the In-Reply-To header.
	InReplyTo string
	// References holds the normalized ids of the References header, oldest
	// first, as the header lists them.
	References []string

	From    Address
	ReplyTo []Address
	To      []Address
	Cc      []Address
	Subject string
	// Date is the Date header; zero when missing or unparseable (a warning
	// says which).
	Date time.Time

	// Text is the full body as plain text: the text/plain part, or the HTML
	// part turned into readable text when the mail has no plain part. Quoted
	// replies are kept.
	Text string
	// Stripped is Text without the quoted part of a reply and without the
	// signature; it may be empty (a bare forward, an all-quote reply).
	Stripped string
	// HTML is the decoded HTML body when the mail has one.
	HTML string

	// Attachments lists every non-body part in order, including the ones
	// skipped for size (Skipped set, Data nil).
	Attachments []Attachment

	// ContentType is the media type of the top-level entity, lower case.
	ContentType string
	// ReportType is set for delivery and disposition reports: the
	// report-type parameter of a multipart/report entity, or
	// "delivery-status" / "disposition-notification" when such a part is
	// found anywhere in the tree.
	ReportType string

	// Header holds the top-level header fields as received: unfolded, not
	// decoded. Loop detection and audit read it.
	Header Header

	// Warnings records what the parser had to guess or repair: unknown or
	// wrong charsets, undecodable encoded-words, truncated parts, skipped
	// attachments. They are informational; the message is usable.
	Warnings []string
}

// Address is a mailbox: a display name (decoded) and an addr-spec.
type Address struct {
	Name    string
	Address string
}

// String formats the address for a header, encoding the name if needed.
func (a Address) String() string {
	return (&mail.Address{Name: a.Name, Address: a.Address}).String()
}

// Attachment is a non-body MIME part.
type Attachment struct {
	// Filename is the decoded file name; may be empty.
	Filename string
	// ContentType is the lower-case media type, e.g. "application/pdf".
	ContentType string
	// ContentID is the Content-ID without angle brackets, for inline parts
	// referenced from HTML.
	ContentID string
	// Inline is true when the part was marked inline (an image in the HTML
	// body) rather than attached.
	Inline bool
	// Size is the decoded size in bytes, also for skipped attachments.
	Size int64
	// Data holds the decoded bytes; nil when Skipped.
	Data []byte
	// Skipped is true when the part was not kept; SkipReason says why.
	Skipped    bool
	SkipReason string
}

// Header maps canonical header names (as net/textproto spells them, e.g.
// "Message-Id", "Auto-Submitted") to their raw values in order.
type Header map[string][]string

// Get returns the first value of the field, or "".
func (h Header) Get(key string) string {
	v := h[textproto.CanonicalMIMEHeaderKey(key)]
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// Values returns all values of the field.
func (h Header) Values(key string) []string {
	return h[textproto.CanonicalMIMEHeaderKey(key)]
}

// Has reports whether the field is present, even with an empty value.
func (h Header) Has(key string) bool {
	_, ok := h[textproto.CanonicalMIMEHeaderKey(key)]
	return ok
}

func (h Header) add(key, value string) {
	k := textproto.CanonicalMIMEHeaderKey(key)
	h[k] = append(h[k], value)
}

// Limits bounds what Parse keeps. The zero value means the defaults below.
type Limits struct {
	// MaxAttachmentSize is the largest decoded attachment kept, in bytes.
	// Default 10 MiB.
	MaxAttachmentSize int64
	// MaxTotalAttachmentSize caps the sum of kept attachments. Default
	// 25 MiB. Attachments past the cap are skipped, not fatal.
	MaxTotalAttachmentSize int64
	// MaxTextSize caps the decoded text and HTML bodies; the rest is cut
	// with a warning. Default 4 MiB.
	MaxTextSize int64
	// MaxParts is the most MIME parts Parse visits before it gives up with
	// a *ParseError. Default 500.
	MaxParts int
	// MaxDepth is the deepest multipart nesting accepted. Default 12. Each
	// level holds a copy of its part while it is read, so the parser's
	// transient memory is at most about MaxDepth times the message size.
	MaxDepth int
	// MaxHeaderBytes caps one header block. Default 1 MiB.
	MaxHeaderBytes int
}

// Default limits.
const (
	DefaultMaxAttachmentSize      = 10 << 20
	DefaultMaxTotalAttachmentSize = 25 << 20
	DefaultMaxTextSize            = 4 << 20
	DefaultMaxParts               = 500
	DefaultMaxDepth               = 12
	DefaultMaxHeaderBytes         = 1 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxAttachmentSize <= 0 {
		l.MaxAttachmentSize = DefaultMaxAttachmentSize
	}
	if l.MaxTotalAttachmentSize <= 0 {
		l.MaxTotalAttachmentSize = DefaultMaxTotalAttachmentSize
	}
	if l.MaxTextSize <= 0 {
		l.MaxTextSize = DefaultMaxTextSize
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultMaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return l
}
