package email

import "testing"

func TestDedupeKey(t *testing.T) {
	a := mustParse(t, crlf("From: a@example.com\nMessage-ID: <X1@Example.COM>\n\nbody"), Limits{})
	b := mustParse(t, crlf("From: a@example.com\nMessage-Id:   <X1@example.com> (resent)\nX-Other: 1\n\nother body"), Limits{})
	c := mustParse(t, crlf("From: a@example.com\nMessage-ID: <x1@example.com>\n\nbody"), Limits{})
	if DedupeKey(a, nil) != DedupeKey(b, nil) {
		t.Error("same Message-ID in different forms gave different keys")
	}
	if DedupeKey(a, nil) == DedupeKey(c, nil) {
		t.Error("local parts differing in case gave the same key")
	}
	if DedupeKey(a, nil) != MessageIDHash("<X1@example.com>") || len(DedupeKey(a, nil)) != 64 {
		t.Errorf("key %q is not the sha256 hex of the id", DedupeKey(a, nil))
	}

	rawA := crlf("From: a@example.com\n\nno id")
	rawB := crlf("From: a@example.com\n\nno id either")
	na, nb := mustParse(t, rawA, Limits{}), mustParse(t, rawB, Limits{})
	if DedupeKey(na, rawA) == DedupeKey(nb, rawB) {
		t.Error("mails without Message-ID share a key")
	}
	if DedupeKey(na, rawA) != DedupeKey(nil, rawA) {
		t.Error("key without Message-ID is not the raw hash")
	}
	if MessageIDHash("  ") != "" {
		t.Error("MessageIDHash of nothing is not empty")
	}
}

func TestNormalizeMessageID(t *testing.T) {
	for in, want := range map[string]string{
		"<Abc@Example.COM>":               "Abc@example.com",
		" <abc@x.y> (comment)":            "abc@x.y",
		"abc@X.Y":                         "abc@x.y",
		"<a b@c>":                         "ab@c",
		"<>":                              "",
		"":                                "",
		"<INC-000001.2.ff@Kanri.Example>": "INC-000001.2.ff@kanri.example",
	} {
		if got := NormalizeMessageID(in); got != want {
			t.Errorf("NormalizeMessageID(%q) = %q, want %q", in, got, want)
		}
	}
}
