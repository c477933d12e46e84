package email

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// NormalizeMessageID returns a Message-ID in the one form Kanri stores and
// compares: without angle brackets, comments and whitespace, with the domain
// part (case-insensitive by RFC 5321) in lower case. The local part keeps its
// case. It returns "" for values that hold no usable id.
func NormalizeMessageID(id string) string {
	id, _ = stripComments(id)
	id = strings.TrimSpace(id)
	if lt := strings.IndexByte(id, '<'); lt >= 0 {
		if gt := strings.IndexByte(id[lt:], '>'); gt >= 0 {
			id = id[lt+1 : lt+gt]
		} else {
			id = id[lt+1:]
		}
	}
	id = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n', '<', '>':
			return -1
		}
		return r
	}, id)
	if id == "" {
		return ""
	}
	if at := strings.LastIndexByte(id, '@'); at >= 0 {
		id = id[:at] + strings.ToLower(id[at:])
	}
	return id
}

// DedupeKey identifies a mail across fetches, mailboxes and restarts: the
// hex SHA-256 of the normalized Message-ID or, when the mail has none (or
// could not be parsed), of the raw bytes. msg may be nil.
//
// The key is what a Temporal workflow id ("mail-"+key) and the unique index
// on stored Message-IDs are built from, so a mail fetched twice is handled
// once.
func DedupeKey(msg *Message, raw []byte) string {
	if msg != nil && msg.MessageID != "" {
		sum := sha256.Sum256([]byte(msg.MessageID))
		return hex.EncodeToString(sum[:])
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// MessageIDHash is the hex SHA-256 of a normalized Message-ID, for looking
// up stored ids (the same value DedupeKey gives for a mail with that id);
// "" when id holds no usable Message-ID.
func MessageIDHash(id string) string {
	id = NormalizeMessageID(id)
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}
