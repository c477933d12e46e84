package email

import "testing"

func TestStripQuoted(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{
			name: "gmail english",
			in:   "Thanks, that fixed it.\n\nOn Mon, Jan 15, 2024 at 10:00 AM Kanri <help@kanri.example> wrote:\n\n> Your case was resolved.\n> Reply \"confirm\".\n",
			want: "Thanks, that fixed it.",
		},
		{
			name: "gmail wrapped attribution",
			in:   "Still broken.\n\nOn Mon, Jan 15, 2024 at 10:00 AM Kanri Service Desk <\nhelp@kanri.example> wrote:\n> resolved\n",
			want: "Still broken.",
		},
		{
			name: "attribution without a quote marker",
			in:   "reopen\n\nOn 15/01/2024 10:00, Kanri wrote:\nYour case was resolved.\n",
			want: "reopen",
		},
		{
			name: "japanese thunderbird",
			in:   "了解しました。\n\n山田 太郎 さんは書きました:\n> 対応をお願いします。\n",
			want: "了解しました。",
		},
		{
			name: "japanese full-width colon",
			in:   "確認しました\n\nサービスデスク様が書きました：\n> 解決しました\n",
			want: "確認しました",
		},
		{
			name: "japanese gmail",
			in:   "対応ありがとうございます。\n\n2024年1月15日(月) 10:00 Kanri <help@kanri.example>:\n\n> [INC-000123] は解決済みです。\n",
			want: "対応ありがとうございます。",
		},
		{
			name: "japanese english-style wrote",
			in:   "再開\n\n2024/01/15 10:00、Kanri wrote:\n> 解決しました\n",
			want: "再開",
		},
		{
			name: "outlook original message",
			in:   "Please reopen.\n\n-----Original Message-----\nFrom: Kanri <help@kanri.example>\nSent: Monday, January 15, 2024 10:00 AM\nSubject: resolved\n\nold text\n",
			want: "Please reopen.",
		},
		{
			name: "outlook japanese separator",
			in:   "再オープンしてください\n-----元のメッセージ-----\n差出人: Kanri\n",
			want: "再オープンしてください",
		},
		{
			name: "outlook header block after underscores",
			in:   "See my notes below.\n\n________________________________\nFrom: Kanri <help@kanri.example>\nSent: Monday, January 15, 2024 10:00\nTo: Taro\nSubject: [INC-000123] resolved\n\nold body\n",
			want: "See my notes below.",
		},
		{
			name: "outlook japanese header block",
			in:   "確認しました。\r\n\r\n差出人: Kanri <help@kanri.example>\r\n送信日時: 2024年1月15日 10:00\r\n宛先: 山田 太郎\r\n件名: [INC-000123] 解決のお知らせ\r\n\r\n本文\r\n",
			want: "確認しました。",
		},
		{
			name: "bold outlook web fields",
			in:   "ok\n\n*From:* Kanri <help@kanri.example>\n*Sent:* Monday\n*To:* me\n",
			want: "ok",
		},
		{
			name: "interleaved quotes keep the answers",
			in:   "> Is the VPN up?\nNo, still down.\n> Since when?\nSince 9:00.\n",
			want: "No, still down.\nSince 9:00.",
		},
		{
			name: "full-width quote marks",
			in:   "はい\n＞ 以前の文\n",
			want: "はい",
		},
		{
			name: "signature",
			in:   "The printer works again.\n\n-- \nTaro Yamada\nACME Corp\n",
			want: "The printer works again.",
		},
		{
			name: "mobile footers",
			in:   "OK\n\nSent from my iPhone\n",
			want: "OK",
		},
		{
			name: "japanese mobile footer",
			in:   "OK\n\niPhoneから送信\n",
			want: "OK",
		},
		{
			name: "a sentence ending in wrote is not an attribution",
			in:   "Here is what I wrote:\nThe report is attached.\n",
			want: "Here is what I wrote:\nThe report is attached.",
		},
		{
			name: "a lone From line is content",
			in:   "From: the warehouse, two boxes arrived.\nNothing else.\n",
			want: "From: the warehouse, two boxes arrived.\nNothing else.",
		},
		{
			name: "all quoted",
			in:   "On Mon, Jan 15, 2024, Kanri wrote:\n> hello\n",
			want: "",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := StripQuoted(tc.in); got != tc.want {
				t.Errorf("StripQuoted =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
