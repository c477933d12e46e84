package email

import "testing"

func TestParseCommand(t *testing.T) {
	cases := map[string]Command{
		"confirm":                          CommandConfirm,
		"Confirmed.":                       CommandConfirm,
		"  OK!\n\nthanks":                  CommandConfirm,
		"ＯＫ":                               CommandConfirm,
		"\n\n確認しました。\n山田":                  CommandConfirm,
		"確認":                               CommandConfirm,
		"解決しました！":                          CommandConfirm,
		"reopen":                           CommandReopen,
		"Re-open":                          CommandReopen,
		"再開":                               CommandReopen,
		"再オープン":                            CommandReopen,
		"未解決です":                            CommandNone,
		"未解決":                              CommandReopen,
		"OK, but the printer still jams":   CommandNone,
		"Please confirm the delivery date": CommandNone,
		"承認":                               CommandNone,
		"":                                 CommandNone,
	}
	for in, want := range cases {
		if got := ParseCommand(in); got != want {
			t.Errorf("ParseCommand(%q) = %v, want %v", in, got, want)
		}
	}
	if CommandConfirm.String() != "confirm" || CommandReopen.String() != "reopen" || CommandNone.String() != "none" {
		t.Error("Command.String")
	}
}
