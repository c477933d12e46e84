//go:build ignore

// gen writes the .eml corpus in this directory. The fixtures hold bytes in
// legacy Japanese charsets (ISO-2022-JP, Shift_JIS/CP932, EUC-JP), which no
// editor keeps exact, so they are generated: edit this program, then run
//
//	go run ./integrations/email/testdata/gen.go
//
// from the module root. Every file has CRLF line endings. {{CASE}} is a
// placeholder for a case id that the end-to-end test fills in at delivery
// (corpus_test.go uses INC-000042).
package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

func encode(enc encoding.Encoding, s string) []byte {
	b, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		log.Fatalf("encode %q: %v", s, err)
	}
	// Every character must survive the round trip: no "?" substitutes.
	back, err := enc.NewDecoder().Bytes(b)
	if err != nil || string(back) != s {
		log.Fatalf("round trip of %q gave %q (%v)", s, back, err)
	}
	return b
}

func jis(s string) []byte  { return encode(japanese.ISO2022JP, s) }
func sjis(s string) []byte { return encode(japanese.ShiftJIS, s) }
func euc(s string) []byte  { return encode(japanese.EUCJP, s) }

// bword is an RFC 2047 B encoded-word.
func bword(charset string, b []byte) string {
	return "=?" + charset + "?B?" + base64.StdEncoding.EncodeToString(b) + "?="
}

// qword is an RFC 2047 Q encoded-word: everything but letters and digits
// escaped, as the strictest mailers do.
func qword(charset string, b []byte) string {
	var sb strings.Builder
	sb.WriteString("=?" + charset + "?Q?")
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			sb.WriteByte(c)
		case c == ' ':
			sb.WriteByte('_')
		default:
			fmt.Fprintf(&sb, "=%02X", c)
		}
	}
	sb.WriteString("?=")
	return sb.String()
}

// qp encodes a body in quoted-printable with soft line breaks.
func qp(b []byte) []byte {
	var buf bytes.Buffer
	w := quotedprintable.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}

// b64 wraps base64 at 76 columns.
func b64(b []byte) []byte {
	s := base64.StdEncoding.EncodeToString(b)
	var out bytes.Buffer
	for len(s) > 76 {
		out.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	out.WriteString(s + "\n")
	return out.Bytes()
}

// mail joins a header block (one field per line, continuation lines
// starting with a space) and a body, and turns every line ending into CRLF.
func mail(header string, body []byte) []byte {
	var buf bytes.Buffer
	buf.WriteString(strings.TrimLeft(header, "\n"))
	if !strings.HasSuffix(header, "\n") {
		buf.WriteString("\n")
	}
	buf.WriteString("\n")
	buf.Write(body)
	return crlf(buf.Bytes())
}

func crlf(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// noise is deterministic, incompressible filler for the oversize mail.
func noise(n int) []byte {
	out := make([]byte, n)
	x := uint32(2463534242)
	for i := range out {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		out[i] = byte(x)
	}
	return out
}

func main() {
	dir := filepath.Join("integrations", "email", "testdata")
	if _, err := os.Stat(filepath.Join(dir, "gen.go")); err != nil {
		log.Fatal("run from the module root: go run ./integrations/email/testdata/gen.go")
	}
	files := map[string][]byte{}

	// The English mail that opens the case the relay replies, the
	// out-of-office reply and the echo thread onto.
	files["en-opener-printer.eml"] = mail(`
Return-Path: <rita@example.com>
Received: from client.test (client.test [192.0.2.10])
	by mx.example.com with ESMTPS id 4Xy1Zq0Ab; Thu, 26 Nov 2026 08:59:58 +0000
From: Rita Requester <rita@example.com>
To: support@example.com
Subject: Cannot print to floor 3 printer
Message-ID: <print-2f9c@client.test>
Date: Thu, 26 Nov 2026 09:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 7bit
`, []byte("Hello,\n\nSince this morning nothing I send to the floor 3 printer comes out.\nThe queue shows the jobs as \"sent\".\n\nRita\n"))

	// ISO-2022-JP, 7bit body, the subject in two B words (each a whole run
	// of characters, folded), a B-encoded display name.
	files["ja-iso2022jp-7bit.eml"] = mail(`
Return-Path: <rita@example.com>
From: `+bword("ISO-2022-JP", jis("山田 リタ"))+` <rita@example.com>
To: support@example.com
Subject: `+bword("ISO-2022-JP", jis("会議室のプロジェクターが"))+`
 `+bword("ISO-2022-JP", jis("映りません"))+`
Message-ID: <20261126090500.ja7bit@client.test>
Date: Thu, 26 Nov 2026 18:05:00 +0900
X-Mailer: Becky! ver. 2.81.04
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-2022-JP
Content-Transfer-Encoding: 7bit
`, jis("お疲れ様です。山田です。\n\n三階の会議室Ａのプロジェクターが映りません。\nＨＤＭＩケーブルを替えても「信号なし」と表示されます。\n\nよろしくお願いいたします。\n"))

	// ISO-2022-JP in quoted-printable (ESC as =1B, soft line breaks inside
	// escape sequences), a Q-encoded subject and a Q-encoded name.
	files["ja-iso2022jp-qp.eml"] = mail(`
Return-Path: <rita@example.com>
From: `+qword("iso-2022-jp", jis("佐藤"))+` <rita@example.com>
To: support@example.com
Subject: `+qword("iso-2022-jp", jis("【至急】経費精算システムにログインできない"))+`
Message-ID: <20261126091000.jaqp@client.test>
Date: Thu, 26 Nov 2026 18:10:00 +0900
MIME-Version: 1.0
Content-Type: text/plain; charset="iso-2022-jp"
Content-Transfer-Encoding: quoted-printable
`, qp(jis("経理部の佐藤です。\n\n今朝から経費精算システムにログインできません。\nブラウザはChromeとEdgeの両方で試しましたが、どちらも同じエラー画面が表示されてしまいます。\nエラーコード：E-1024（認証サーバーに接続できません）\n\n本日締めのため、至急対応をお願いします。\n")))

	// The iso-2022-jp-ms label (FreeScout #3312) with NEC row-13 characters
	// (①②③, №, ㈱) that plain ISO-2022-JP lacks.
	files["ja-iso2022jp-ms-nec.eml"] = mail(`
Return-Path: <rita@example.com>
From: `+bword("iso-2022-jp-ms", jis("田中"))+` <rita@example.com>
To: support@example.com
Subject: `+bword("iso-2022-jp-ms", jis("㈱カンリ　ＰＣ交換の件（№12）"))+`
Message-ID: <20261126091500.jams@client.test>
Date: Thu, 26 Nov 2026 18:15:00 +0900
MIME-Version: 1.0
Content-Type: text/plain; charset=iso-2022-jp-ms
Content-Transfer-Encoding: 7bit
`, jis("情報システム部 御中\n\n㈱カンリの田中です。\nＰＣ交換の手順は以下のとおりです。\n①データのバックアップ\n②旧ＰＣの返却\n③新ＰＣの受け取り\n\n管理番号：№12345\n"))

	// Shift_JIS body under the cp932 label, 8bit, with NEC special
	// characters and an IBM extension kanji (髙); the subject is two
	// Shift_JIS B words split in the middle of a character.
	subj := sjis("№３の複合機が故障しています（㈱髙橋商事）")
	cut := 9 // inside the two-byte "合"
	if subj[cut-1] < 0x80 {
		log.Fatal("the subject must be cut inside a two-byte character")
	}
	files["ja-cp932-nec.eml"] = mail(`
Return-Path: <rita@example.com>
From: `+bword("Shift_JIS", sjis("髙橋"))+` <rita@example.com>
To: support@example.com
Subject: `+bword("Shift_JIS", subj[:cut])+`
 `+bword("Shift_JIS", subj[cut:])+`
Message-ID: <20261126092000.cp932@client.test>
Date: Thu, 26 Nov 2026 18:20:00 +0900
MIME-Version: 1.0
Content-Type: text/plain; charset=cp932
Content-Transfer-Encoding: 8bit
`, sjis("総務部の髙橋です。\n\n３階の複合機（管理番号№３）が紙詰まりで動きません。\n①トレイを開けても紙が見えません\n②エラー表示は「J-21」です\n\n㈱髙橋商事\n"))

	// EUC-JP, 8bit, with a B-encoded subject.
	files["ja-euc-jp.eml"] = mail(`
Return-Path: <rita@example.com>
From: `+bword("EUC-JP", euc("鈴木"))+` <rita@example.com>
To: support@example.com
Subject: `+bword("EUC-JP", euc("共有フォルダへのアクセス権限申請"))+`
Message-ID: <20261126092500.eucjp@client.test>
Date: Thu, 26 Nov 2026 18:25:00 +0900
X-Mailer: Sylpheed 3.7.0
MIME-Version: 1.0
Content-Type: text/plain; charset=EUC-JP
Content-Transfer-Encoding: 8bit
`, euc("開発部の鈴木です。\n\n共有フォルダ「開発資料」への書き込み権限をお願いします。\n期限：来週月曜日\n"))

	// Outlook with no charset parameter on a raw ISO-2022-JP body (Zammad
	// #6144), with Outlook's headers and its Japanese attribution block.
	files["ja-outlook-nocharset.eml"] = mail(`
Return-Path: <rita@example.com>
From: `+bword("iso-2022-jp", jis("伊藤"))+` <rita@example.com>
To: "support@example.com" <support@example.com>
Subject: `+bword("iso-2022-jp", jis("メールが送信できません"))+`
Thread-Topic: `+bword("iso-2022-jp", jis("メールが送信できません"))+`
Thread-Index: AdtAbCdEfGhIjKlMnOpQrStUvWxYzA==
Message-ID: <TYCPR01MB1234567890ABCDEF@TYCPR01MB1234.jpnprd01.prod.outlook.com>
Date: Thu, 26 Nov 2026 09:30:00 +0000
Accept-Language: ja-JP, en-US
Content-Language: ja-JP
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
X-Mailer: Microsoft Outlook 16.0
MIME-Version: 1.0
Content-Type: text/plain
Content-Transfer-Encoding: 7bit
`, jis("お世話になっております。伊藤です。\n\n本日昼頃から、社外宛てのメールが送信できません。\n送信トレイに残ったままになります。\n\n-----Original Message-----\n差出人: 情報システム部\n件名: メンテナンスのお知らせ\n\n今夜メンテナンスを行います。\n"))

	// No charset anywhere: a raw 8-bit Shift_JIS subject and body from an
	// old web mailer.
	files["ja-nocharset-sjis-raw-header.eml"] = mail(`
Return-Path: <rita@example.com>
From: rita@example.com
To: support@example.com
Subject: `+string(sjis("パスワードの再設定をお願いします"))+`
Message-ID: <20261126093500.rawsjis@webmail.client.test>
Date: Thu, 26 Nov 2026 18:35:00 +0900
`, sjis("パスワードを忘れてしまいました。\n再設定の手続きを教えてください。\n"))

	// HTML only, no text alternative, with a style sheet, a list, entities
	// and a link.
	files["html-only.eml"] = mail(`
Return-Path: <rita@example.com>
From: Rita Requester <rita@example.com>
To: support@example.com
Subject: VPN disconnects every 10 minutes
Message-ID: <html-only-8d2e@client.test>
Date: Thu, 26 Nov 2026 09:40:00 +0000
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable
`, qp([]byte(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>p { color: #333; font-family: Arial; }</style></head>
<body>
<p>Hi team,</p>
<p>The VPN client disconnects every 10&nbsp;minutes since the update.</p>
<ul><li>Windows 11 &amp; GlobalProtect 6.2</li><li>Office Wi-Fi and home fibre</li></ul>
<p>Log: <a href="https://files.example.com/vpn.log">vpn.log</a></p>
<p>Thanks,<br>Rita</p>
</body></html>
`)))

	// multipart/mixed > multipart/related > multipart/alternative, an
	// inline image referenced by cid, and a PDF with an RFC 2231 Japanese
	// file name.
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")
	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	files["multipart-alternative-inline-image-attachment.eml"] = mail(`
Return-Path: <rita@example.com>
From: Rita Requester <rita@example.com>
To: support@example.com
Subject: Quote for replacement laptops
Message-ID: <multi-5b7a@client.test>
Date: Thu, 26 Nov 2026 09:45:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed-0001"
`, []byte(`This is a multi-part message in MIME format.

--mixed-0001
Content-Type: multipart/related; boundary="related-0002"; type="multipart/alternative"

--related-0002
Content-Type: multipart/alternative; boundary="alt-0003"

--alt-0003
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hello,

please find the vendor's quote attached. The new model is shown below.

Rita
--alt-0003
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><body><p>Hello,</p><p>please find the vendor's quote attached. The ne=
w model is shown below.</p><p><img src=3D"cid:logo@client.test" alt=3D"lapto=
p"></p><p>Rita</p></body></html>
--alt-0003--

--related-0002
Content-Type: image/png; name="laptop.png"
Content-Transfer-Encoding: base64
Content-ID: <logo@client.test>
Content-Disposition: inline; filename="laptop.png"

`+string(b64(png))+`--related-0002--

--mixed-0001
Content-Type: application/pdf; name="=?UTF-8?B?6KaL56mN5pu4LnBkZg==?="
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8.pdf

`+string(b64(pdf))+`--mixed-0001--
`))

	// A Postfix bounce: multipart/report with a delivery-status part and
	// the returned message, from MAILER-DAEMON with the null sender. The
	// returned message is a Kanri notification; only the top level counts.
	files["dsn-bounce.eml"] = mail(`
Return-Path: <>
Received: by mx.example.com (Postfix) id 8C1A2B3C4D; Thu, 26 Nov 2026 09:50:02 +0000 (UTC)
Date: Thu, 26 Nov 2026 09:50:02 +0000 (UTC)
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: support@example.com
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="8C1A2B3C4D.1795600202/mx.example.com"
Message-Id: <20261126095002.8C1A2B3C4D@mx.example.com>
`, []byte(`This is a MIME-encapsulated message.

--8C1A2B3C4D.1795600202/mx.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<nobody@example.com>: host mail.example.com[198.51.100.7] said: 550 5.1.1
    <nobody@example.com>: Recipient address rejected: User unknown

--8C1A2B3C4D.1795600202/mx.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
X-Postfix-Queue-ID: 8C1A2B3C4D
Arrival-Date: Thu, 26 Nov 2026 09:50:01 +0000 (UTC)

Final-Recipient: rfc822; nobody@example.com
Original-Recipient: rfc822;nobody@example.com
Action: failed
Status: 5.1.1
Remote-MTA: dns; mail.example.com
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.com>: Recipient address
    rejected: User unknown

--8C1A2B3C4D.1795600202/mx.example.com
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Kanri <kanri@kanri.test>
To: nobody@example.com
Subject: [INC-000001] received: test
Message-ID: <INC-000001.1.0000000000000000@kanri.test>
X-Kanri-Case: INC-000001
Auto-Submitted: auto-generated

--8C1A2B3C4D.1795600202/mx.example.com--
`))

	// An Exchange non-delivery report of Kanri's acknowledgement: the tag
	// in its subject puts it on the case, where it may only be a note. The
	// returned message (with X-Kanri-Case) is a message/rfc822 part.
	files["dsn-exchange-ndr-on-case.eml"] = mail(`
Return-Path: <>
From: Microsoft Outlook <postmaster@corp.example.com>
To: <kanri@kanri.test>
Date: Thu, 26 Nov 2026 09:00:09 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
X-MS-Exchange-Message-Is-Ndr:
Content-Language: en-US
Message-ID: <5c7e0a2f-91b3-4d6e-8a10-2b3c4d5e6f70@EXCH01.corp.example.com>
In-Reply-To: <{{CASE}}.1.2b4d6f8a0c1e3a5b@kanri.test>
References: <{{CASE}}@kanri.test> <{{CASE}}.1.2b4d6f8a0c1e3a5b@kanri.test>
Subject: Undeliverable: [{{CASE}}] received: Cannot print to floor 3 printer
Auto-Submitted: auto-replied
`, []byte(`--a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d
Content-Type: text/plain; charset="us-ascii"

Delivery has failed to these recipients or groups:

rita.old@corp.example.com
The email address you entered couldn't be found.

--a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d
Content-Type: message/delivery-status

Reporting-MTA: dns;EXCH01.corp.example.com
Received-From-MTA: dns;mail.kanri.test
Arrival-Date: Thu, 26 Nov 2026 09:00:08 +0000

Final-Recipient: rfc822;rita.old@corp.example.com
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup

--a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d
Content-Type: message/rfc822

From: Kanri <kanri@kanri.test>
To: rita.old@corp.example.com
Subject: [{{CASE}}] received: Cannot print to floor 3 printer
Message-ID: <{{CASE}}.1.2b4d6f8a0c1e3a5b@kanri.test>
X-Kanri-Case: {{CASE}}
Auto-Submitted: auto-generated
Content-Type: text/plain; charset=utf-8

We have logged your incident as {{CASE}}.

--a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d--
`))

	// Japanese HTML only, base64, whose charset is declared only in the
	// HTML <meta> element (no charset parameter), as some webmail sends.
	files["ja-html-only-meta-shiftjis.eml"] = mail(`
Return-Path: <rita@example.com>
From: `+bword("ISO-2022-JP", jis("小林"))+` <rita@example.com>
To: support@example.com
Subject: `+bword("ISO-2022-JP", jis("ＶＰＮに接続できません"))+`
Message-ID: <20261126094200.htmlsjis@webmail.client.test>
Date: Thu, 26 Nov 2026 18:42:00 +0900
MIME-Version: 1.0
Content-Type: text/html
Content-Transfer-Encoding: base64
`, b64(sjis(`<html><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS"></head>
<body><p>営業部の小林です。</p><p>自宅からＶＰＮに接続できません。<br>「認証に失敗しました」と表示されます。</p></body></html>
`)))

	// An RFC 3834 vacation reply on the case (it carries the tag).
	files["ooo-auto-submitted.eml"] = mail(`
Return-Path: <rita@example.com>
From: Rita Requester <rita@example.com>
To: Kanri <kanri@kanri.test>
Subject: Out of office: Re: [{{CASE}}] received: Cannot print to floor 3 printer
Message-ID: <ooo-a1c3@client.test>
Date: Thu, 26 Nov 2026 09:55:00 +0000
Auto-Submitted: auto-replied
X-Autoreply-Note: RFC 3834 vacation responder
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
`, []byte("I am out of the office until 30 November with limited access to mail.\n"))

	// Exchange's automatic reply: no Auto-Submitted, only
	// X-Auto-Response-Suppress: All; not about a case.
	files["ooo-exchange-suppress.eml"] = mail(`
Return-Path: <cab2@example.com>
From: Cab Two <cab2@example.com>
To: support@example.com
Subject: Automatic reply: Server room temperature
Thread-Topic: Server room temperature
Message-ID: <a8f3e1d2c4b54f6e9a7b@EXCH01.corp.example.com>
Date: Thu, 26 Nov 2026 10:00:00 +0000
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: cab2@example.com
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii
`, []byte("I am on leave until Monday. For urgent matters call the service desk.\n"))

	// An old vacation program that marks its replies with Precedence only.
	files["ooo-precedence-auto-reply.eml"] = mail(`
Return-Path: <bob@example.com>
From: Bob Second <bob@example.com>
To: support@example.com
Subject: Away: Re: Disk replacement
Message-ID: <vacation-77e1@example.com>
Date: Thu, 26 Nov 2026 10:05:00 +0000
Precedence: auto_reply
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii
`, []byte("I am away and will read your mail when I am back.\n"))

	// A discussion-list post (Google Groups style: List-Id, no Precedence)
	// from a known user.
	files["list-mailing-list.eml"] = mail(`
Return-Path: <it-announce+bncBAABB@lists.example.com>
From: Mona Manager <mona@example.com>
To: it-announce@lists.example.com
Subject: [it-announce] Maintenance window this Saturday
Message-ID: <list-3e9d@example.com>
Date: Thu, 26 Nov 2026 10:10:00 +0000
Mailing-list: list it-announce@lists.example.com; contact it-announce+owners@lists.example.com
List-Id: <it-announce.lists.example.com>
List-Post: <mailto:it-announce@lists.example.com>
List-Unsubscribe: <mailto:it-announce+unsubscribe@lists.example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
`, []byte("The file servers will be down on Saturday from 08:00 to 12:00.\n"))

	// A bulk newsletter.
	files["bulk-newsletter.eml"] = mail(`
Return-Path: <bounces+1234@mailer.vendor.test>
From: Vendor News <news@vendor.test>
To: support@example.com
Subject: November product update
Message-ID: <nl-2026-11.9a8b7c@mailer.vendor.test>
Date: Thu, 26 Nov 2026 10:15:00 +0000
Precedence: bulk
List-Unsubscribe: <https://vendor.test/unsubscribe?u=1234>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
`, []byte("Our November update is here.\n"))

	// Kanri's own acknowledgement come back (a forwarding rule at the
	// caller's): X-Kanri-Case and a Message-ID in kanri.test.
	files["own-echo-x-kanri-case.eml"] = mail(`
Return-Path: <kanri@kanri.test>
Date: Thu, 26 Nov 2026 09:00:05 +0000
From: Kanri <kanri@kanri.test>
To: Rita Requester <rita@example.com>
Subject: [{{CASE}}] received: Cannot print to floor 3 printer
Message-ID: <{{CASE}}.1.5f0c2a9e8d7b6a41@kanri.test>
In-Reply-To: <print-2f9c@client.test>
References: <{{CASE}}@kanri.test> <print-2f9c@client.test>
Auto-Submitted: auto-generated
Precedence: bulk
X-Auto-Response-Suppress: All
X-Kanri-Case: {{CASE}}
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 7bit
`, []byte("We have logged your incident as {{CASE}} (priority P2). Reply to this mail to add to it.\n\n-- \nKanri {{CASE}}. Reply to this mail to add to the case; keep [{{CASE}}] in the subject.\n"))

	// Kanri's mail come back through a relay that dropped the X- and
	// Auto-Submitted headers: only the Message-ID domain is left. Its case
	// tag names a case that does not exist.
	files["own-echo-msgid-only.eml"] = mail(`
Date: Thu, 26 Nov 2026 09:00:07 +0000
From: Kanri <kanri@kanri.test>
To: Rita Requester <rita@example.com>
Subject: [INC-000777] resolved: Old printer
Message-ID: <INC-000777.3.0123456789abcdef@kanri.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
`, []byte("Your incident INC-000777 is resolved.\n"))

	// The same Message-ID twice: the same mail delivered by two routes.
	dupHeader := `
From: Rita Requester <rita@example.com>
To: support@example.com, helpdesk@example.com
Subject: Shared drive is full
Message-ID: <dup-7f3a@client.test>
Date: Thu, 26 Nov 2026 10:20:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
`
	dupBody := []byte("The S: drive reports 0 bytes free.\n")
	files["dup-message-id-1.eml"] = mail(`
Return-Path: <rita@example.com>
Delivered-To: support@example.com
Received: from client.test by mx1.example.com; Thu, 26 Nov 2026 10:20:01 +0000
`+strings.TrimLeft(dupHeader, "\n"), dupBody)
	files["dup-message-id-2.eml"] = mail(`
Return-Path: <rita@example.com>
Delivered-To: helpdesk@example.com
Received: from mx1.example.com by mx2.example.com; Thu, 26 Nov 2026 10:20:03 +0000
Received: from client.test by mx1.example.com; Thu, 26 Nov 2026 10:20:01 +0000
`+strings.TrimLeft(dupHeader, "\n"), dupBody)

	// A reply whose thread a relay (Amazon SES) broke: Kanri's
	// acknowledgement reached the caller under a rewritten Message-ID, and
	// her reply went out through SES too. Only Kanri's thread reference in
	// References leads to the case; the subject has no tag.
	files["reply-relay-rewritten-references.eml"] = mail(`
Return-Path: <0102018f3c9a7b2e-rita@eu-west-1.amazonses.com>
From: Rita Requester <rita@example.com>
To: support@example.com
Subject: Re: Cannot print to floor 3 printer
Message-ID: <0102018f3c9a7b2e-6f1d2c3b-4a59-4e7f-9d1c-0a1b2c3d4e5f-000000@eu-west-1.amazonses.com>
In-Reply-To: <0102018f3c91aa10-3b2a1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d-000000@eu-west-1.amazonses.com>
References: <{{CASE}}@kanri.test>
 <0102018f3c91aa10-3b2a1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d-000000@eu-west-1.amazonses.com>
Date: Thu, 26 Nov 2026 10:25:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
`, []byte("The printer now shows \"offline\" on the panel.\n\nOn Thu, 26 Nov 2026 at 09:00, Kanri <kanri@kanri.test> wrote:\n> We have logged your incident.\n"))

	// The same break, answered from Outlook, which keeps only the
	// rewritten id: the subject tag leads to the case.
	files["reply-relay-rewritten-subject-tag.eml"] = mail(`
Return-Path: <rita@example.com>
From: Rita Requester <rita@example.com>
To: support@example.com
Subject: RE: [{{CASE}}] received: Cannot print to floor 3 printer
Message-ID: <0102018f3ca1c0de-7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d-000000@eu-west-1.amazonses.com>
In-Reply-To: <0102018f3c91aa10-3b2a1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d-000000@eu-west-1.amazonses.com>
References: <0102018f3c91aa10-3b2a1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d-000000@eu-west-1.amazonses.com>
Date: Thu, 26 Nov 2026 10:30:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
`, []byte("I restarted it; still offline.\n\n-----Original Message-----\nFrom: Kanri <kanri@kanri.test>\nSent: Thursday, November 26, 2026 9:00 AM\nTo: Rita Requester <rita@example.com>\nSubject: [{{CASE}}] received: Cannot print to floor 3 printer\n\nWe have logged your incident.\n"))

	// multipart/mixed without a boundary parameter.
	files["broken-multipart-no-boundary.eml"] = mail(`
Return-Path: <rita@example.com>
From: Rita Requester <rita@example.com>
To: support@example.com
Subject: Scanner settings
Message-ID: <broken-0c4e@client.test>
Date: Thu, 26 Nov 2026 10:35:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed
`, []byte("--\nContent-Type: text/plain\n\nThe scanner settings are attached.\n--\nContent-Type: application/octet-stream\n\nAAAA\n----\n"))

	// A mail of about 64 KiB: a 48 KiB attachment. The end-to-end test sets
	// max_size to 32 KiB, far above every other fixture.
	files["oversize-attachment.eml"] = mail(`
Return-Path: <rita@example.com>
From: Rita Requester <rita@example.com>
To: support@example.com
Subject: Screen recording of the error
Message-ID: <oversize-91d0@client.test>
Date: Thu, 26 Nov 2026 10:40:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="big-0001"
`, []byte(`--big-0001
Content-Type: text/plain; charset=utf-8

The recording is attached.
--big-0001
Content-Type: video/mp4; name="recording.mp4"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="recording.mp4"

`+string(b64(noise(48<<10)))+`--big-0001--
`))

	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b := files[name]
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-52s %6d bytes\n", name, len(b))
	}
}
