package email

import (
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	c := Classifier{OwnDomain: "kanri.example", OwnAddresses: []string{"help@kanri.example"}}
	const human = "From: Taro <taro@example.jp>\nTo: help@kanri.example\nMessage-ID: <1@example.jp>\nSubject: printer\n"
	cases := []struct {
		name, header string
		auto         bool
		reason       string
	}{
		{"human", human, false, ""},
		{"human says auto-submitted no", human + "Auto-Submitted: no\n", false, ""},
		{"human with receipt suppression only", human + "X-Auto-Response-Suppress: RN, NRN\n", false, ""},
		{"human replying to kanri", human + "In-Reply-To: <INC-000001.3.00@kanri.example>\n", false, ""},
		{"out of office", human + "Auto-Submitted: auto-replied\n", true, "auto-submitted: auto-replied"},
		{"auto-generated with params", human + "Auto-Submitted: Auto-Generated; owner-email=x@y\n", true, "auto-submitted: auto-generated"},
		{"exchange oof", human + "X-Auto-Response-Suppress: All\n", true, "x-auto-response-suppress: all"},
		{"precedence bulk", human + "Precedence: bulk\n", true, "precedence: bulk"},
		{"precedence junk", human + "Precedence: junk\n", true, "precedence: junk"},
		{"precedence list", human + "Precedence: list\n", true, "precedence: list"},
		{"mailing list", human + "List-Id: <ops.lists.example.jp>\n", true, "list mail: List-Id"},
		{"newsletter", human + "List-Unsubscribe: <mailto:unsub@example.jp>\n", true, "bulk mail: List-Unsubscribe"},
		{"x-autoreply", human + "X-Autoreply: yes\n", true, "x-autoreply header"},
		{"x-loop", human + "X-Loop: yes\n", true, "loop or failure header"},
		{"null return path", human + "Return-Path: <>\n", true, "null sender"},
		{"no from", "To: help@kanri.example\nSubject: x\n", true, "no sender address"},
		{"mailer-daemon", strings.Replace(human, "taro@example.jp", "MAILER-DAEMON@mx.example.jp", 1), true, "automatic sender: MAILER-DAEMON@mx.example.jp"},
		{"postmaster", strings.Replace(human, "taro@example.jp", "postmaster@example.jp", 1), true, "automatic sender: postmaster@example.jp"},
		{"noreply", strings.Replace(human, "taro@example.jp", "no-reply@service.example", 1), true, "automatic sender: no-reply@service.example"},
		{"noreply tagged", strings.Replace(human, "taro@example.jp", "noreply+abc@service.example", 1), true, "automatic sender: noreply+abc@service.example"},
		{"own case header", human + "X-Kanri-Case: INC-000001\n", true, "own mail: X-Kanri-Case header"},
		{"own message-id", strings.Replace(human, "<1@example.jp>", "<INC-000001.3.abcdef@Kanri.Example>", 1), true, "own message-id"},
		{"own address", strings.Replace(human, "taro@example.jp", "HELP@kanri.example", 1), true, "own address: HELP@kanri.example"},
		{"read receipt", human + "Content-Type: multipart/report; report-type=disposition-notification; boundary=b\n", true, "disposition notification"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := crlf(tc.header + "\nbody\n")
			if strings.Contains(tc.header, "multipart/report") {
				raw = crlf(tc.header + "\n--b\nContent-Type: text/plain\n\nread\n--b--\n")
			}
			msg := mustParse(t, raw, Limits{})
			auto, reason := c.Classify(msg)
			if auto != tc.auto || reason != tc.reason {
				t.Errorf("Classify = %v %q, want %v %q", auto, reason, tc.auto, tc.reason)
			}
		})
	}
}

func TestClassifyBounce(t *testing.T) {
	raw := crlf("Return-Path: <>\nFrom: Mail Delivery Subsystem <mailer-daemon@example.jp>\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: text/plain\n\nfailed\n--b\nContent-Type: message/delivery-status\n\nStatus: 5.1.1\n--b--\n")
	auto, reason := Classifier{}.Classify(mustParse(t, raw, Limits{}))
	if !auto || reason != "delivery-status report" {
		t.Errorf("Classify = %v %q", auto, reason)
	}
	// A DSN nested in a mixed message still counts.
	raw = crlf("From: postmaster@example.jp\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nStatus: 5.1.1\n--b--\n")
	if auto, reason := (Classifier{}).Classify(mustParse(t, raw, Limits{})); !auto || reason != "delivery-status report" {
		t.Errorf("nested DSN: Classify = %v %q", auto, reason)
	}
	if auto, _ := (Classifier{}).Classify(nil); !auto {
		t.Error("nil message is not treated as automatic")
	}
}
