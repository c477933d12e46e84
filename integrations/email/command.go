package email

import (
	"strings"

	"golang.org/x/text/width"
)

// Command is an action a requester asks for by replying with one word.
type Command int

// Mail commands.
const (
	CommandNone    Command = iota
	CommandConfirm         // the requester confirms the resolution
	CommandReopen          // the requester says the problem persists
)

func (c Command) String() string {
	switch c {
	case CommandConfirm:
		return "confirm"
	case CommandReopen:
		return "reopen"
	}
	return "none"
}

// The words must stand alone on the first line: "OK" is a command, "OK, but
// the printer still jams" is a comment.
var commandWords = map[string]Command{
	"confirm":     CommandConfirm,
	"confirmed":   CommandConfirm,
	"ok":          CommandConfirm,
	"okay":        CommandConfirm,
	"resolved":    CommandConfirm,
	"確認":          CommandConfirm,
	"確認しました":      CommandConfirm,
	"確認済み":        CommandConfirm,
	"解決しました":      CommandConfirm,
	"解決":          CommandConfirm,
	"reopen":      CommandReopen,
	"re-open":     CommandReopen,
	"not fixed":   CommandReopen,
	"再開":          CommandReopen,
	"再開してください":    CommandReopen,
	"再オープン":       CommandReopen,
	"未解決":         CommandReopen,
	"解決していません":    CommandReopen,
	"解決していない":     CommandReopen,
	"再オープンしてください": CommandReopen,
}

// ParseCommand reads the first non-empty line of a reply's stripped text
// (Message.Stripped) and returns the command it names, or CommandNone.
// Case, full-width letters and trailing punctuation ("OK。", "ＯＫ!",
// "確認しました。") do not matter.
//
// A command only expresses what the sender asks for; whether the sender may
// ask it is decided by the case workflow.
func ParseCommand(stripped string) Command {
	for _, line := range strings.Split(stripped, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		return commandWords[normalizeCommand(line)]
	}
	return CommandNone
}

func normalizeCommand(s string) string {
	s = strings.ToLower(width.Fold.String(s))
	s = strings.TrimRight(s, " \t.!。．！、,")
	return strings.Join(strings.Fields(s), " ")
}
