package api

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeStrict: whatever the body, decoding answers with a value or an
// error, never a panic, and accepts only what encoding/json accepts.
func FuzzDecodeStrict(f *testing.F) {
	for _, seed := range []string{
		`{"action":"resolve","resolution":"done"}`, `{"title": `, `{}`, `[]`, `null`, ``, `{"a":1}`,
		`{"action":"comment","body":"\u30e1\u30fc\u30eb\u304c\u5c4a\u304b\u306a\u3044"}`, `{"action":1}`, `{"action":"x"} {}`,
		"{\"action\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var b actionBody
		err := decodeStrict(body, &b)
		if err == nil && !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if err != nil && err.Error() == "" {
			t.Fatal("an error without a message")
		}
	})
}
