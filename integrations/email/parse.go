package email

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/textproto"
)

// Parse decodes a raw RFC 5322 message.
//
// Unknown charsets, undecodable headers, truncated parts and oversize
// attachments do not fail the message; they are repaired or skipped and
// recorded in Message.Warnings. Only a structure that cannot be read at all
// (see ParseError) fails, and then the returned Message, when not nil, holds
// what was decoded before the failure (usually the headers).
func Parse(raw []byte, limits Limits) (msg *Message, err error) {
	// The parser is written not to panic on any input (FuzzParse checks);
	// this is the last line of defence for one mail among many.
	defer func() {
		if r := recover(); r != nil {
			msg, err = nil, &ParseError{Reason: "parser failure", Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	return parse(raw, limits)
}

type parser struct {
	limits      Limits
	msg         *Message
	parts       int
	attachTotal int64
}

// bodyText collects the text bodies of a subtree in document order.
type bodyText struct {
	plain []string
	html  []string
}

func parse(raw []byte, limits Limits) (*Message, error) {
	p := &parser{limits: limits.withDefaults(), msg: &Message{Header: Header{}}}

	h, body, err := p.readHeader(raw)
	if err != nil {
		return nil, err
	}
	p.decodeEnvelope(h)

	bt, err := p.walk(h, body, 0, "")
	if err != nil {
		return p.msg, err
	}
	p.setBody(bt)
	return p.msg, nil
}

func (p *parser) warn(s string) {
	// A hostile message could produce a warning per byte; a few dozen say
	// enough.
	const maxWarnings = 50
	switch n := len(p.msg.Warnings); {
	case n < maxWarnings:
		p.msg.Warnings = append(p.msg.Warnings, s)
	case n == maxWarnings:
		p.msg.Warnings = append(p.msg.Warnings, "further warnings omitted")
	}
}

// readHeader splits raw into the top-level header and the body.
func (p *parser) readHeader(raw []byte) (textproto.Header, []byte, error) {
	// An mbox "From " separator line is not a header field.
	if bytes.HasPrefix(raw, []byte("From ")) {
		if nl := bytes.IndexByte(raw, '\n'); nl >= 0 {
			raw = raw[nl+1:]
		}
	}
	if end := headerEnd(raw); (end < 0 && len(raw) > p.limits.MaxHeaderBytes) || end > p.limits.MaxHeaderBytes {
		return textproto.Header{}, nil, &ParseError{Reason: "header too large", Err: fmt.Errorf("more than %d bytes", p.limits.MaxHeaderBytes)}
	}
	r := bytes.NewReader(raw)
	br := bufio.NewReader(r)
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return h, nil, &ParseError{Reason: "malformed header", Err: err}
	}
	if h.Len() == 0 {
		return h, nil, &ParseError{Reason: "no header fields"}
	}
	consumed := len(raw) - r.Len() - br.Buffered()
	return h, raw[consumed:], nil
}

// headerEnd returns the offset of the blank line ending the header, or -1.
func headerEnd(raw []byte) int {
	if bytes.HasPrefix(raw, []byte("\n")) || bytes.HasPrefix(raw, []byte("\r\n")) {
		return 0
	}
	a := bytes.Index(raw, []byte("\n\n"))
	b := bytes.Index(raw, []byte("\n\r\n"))
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	default:
		return min(a, b)
	}
}

func (p *parser) decodeEnvelope(h textproto.Header) {
	m := p.msg
	fields := h.Fields()
	for fields.Next() {
		m.Header.add(fields.Key(), fields.Value())
	}

	m.Subject = strings.TrimSpace(decodeHeaderText(h.Get("Subject"), p.warn))
	if from := parseAddressList(h.Get("From"), p.warn); len(from) > 0 {
		m.From = from[0]
	}
	m.ReplyTo = parseAddressList(strings.Join(h.Values("Reply-To"), ","), p.warn)
	m.To = parseAddressList(strings.Join(h.Values("To"), ","), p.warn)
	m.Cc = parseAddressList(strings.Join(h.Values("Cc"), ","), p.warn)

	if v := h.Get("Date"); v != "" {
		if t, ok := parseDate(v); ok {
			m.Date = t
		} else {
			p.warn(fmt.Sprintf("unparseable Date %q", truncate(v, 80)))
		}
	}

	if v := h.Get("Message-Id"); v != "" {
		if ids := parseMsgIDList(v); len(ids) > 0 {
			m.MessageID = ids[0]
		} else {
			m.MessageID = NormalizeMessageID(v)
		}
	}
	if ids := parseMsgIDList(strings.Join(h.Values("In-Reply-To"), " ")); len(ids) > 0 {
		m.InReplyTo = ids[0]
	}
	m.References = parseMsgIDList(strings.Join(h.Values("References"), " "))
}

// walk visits one entity and its children.
func (p *parser) walk(h textproto.Header, body []byte, depth int, parentType string) (bodyText, error) {
	p.parts++
	if p.parts > p.limits.MaxParts {
		return bodyText{}, &ParseError{Reason: "too many MIME parts", Err: fmt.Errorf("more than %d", p.limits.MaxParts)}
	}
	if depth > p.limits.MaxDepth {
		return bodyText{}, &ParseError{Reason: "MIME nesting too deep", Err: fmt.Errorf("more than %d levels", p.limits.MaxDepth)}
	}

	mediaType, params := p.contentType(h, parentType)
	if depth == 0 {
		p.msg.ContentType = mediaType
	}

	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		return p.walkMultipart(mediaType, params, body, depth)
	case mediaType == "message/delivery-status":
		p.setReportType("delivery-status")
	case mediaType == "message/disposition-notification":
		p.setReportType("disposition-notification")
	}

	disposition, dparams := p.disposition(h)
	filename := dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	filename = strings.TrimSpace(decodeHeaderText(filename, p.warn))

	isText := mediaType == "text/plain" || mediaType == "text/html"
	if isText && disposition != "attachment" && filename == "" {
		return p.textPart(h, mediaType, params, body), nil
	}
	p.attachment(h, mediaType, disposition, filename, body)
	return bodyText{}, nil
}

func (p *parser) walkMultipart(mediaType string, params map[string]string, body []byte, depth int) (bodyText, error) {
	boundary := params["boundary"]
	if boundary == "" {
		return bodyText{}, &ParseError{Reason: "multipart without boundary", Err: fmt.Errorf("%s has no boundary parameter", mediaType)}
	}
	if mediaType == "multipart/report" {
		if rt := strings.ToLower(params["report-type"]); rt != "" {
			p.setReportType(rt)
		}
	}

	mr := textproto.NewMultipartReader(bytes.NewReader(body), boundary)
	var children []bodyText
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if n == 0 {
				return bodyText{}, &ParseError{Reason: "no MIME parts found", Err: fmt.Errorf("%s boundary %q: %w", mediaType, boundary, err)}
			}
			p.warn(fmt.Sprintf("%s: %v; later parts ignored", mediaType, err))
			break
		}
		data, readErr := io.ReadAll(part)
		if readErr != nil {
			p.warn(fmt.Sprintf("%s part %d is truncated (%v)", mediaType, n+1, readErr))
		}
		child, err := p.walk(part.Header, data, depth+1, mediaType)
		if err != nil {
			return bodyText{}, err
		}
		children = append(children, child)
		if readErr != nil {
			break
		}
	}

	var out bodyText
	if mediaType == "multipart/alternative" {
		// The first plain alternative and the last (richest) HTML one.
		for _, c := range children {
			if len(c.plain) > 0 && len(out.plain) == 0 {
				out.plain = c.plain
			}
			if len(c.html) > 0 {
				out.html = c.html
			}
		}
		return out, nil
	}
	for _, c := range children {
		out.plain = append(out.plain, c.plain...)
		out.html = append(out.html, c.html...)
	}
	return out, nil
}

func (p *parser) setReportType(rt string) {
	if p.msg.ReportType == "" {
		p.msg.ReportType = rt
	}
}

// contentType returns the lower-case media type and its parameters, with the
// RFC 2045/2046 defaults for a missing or broken header.
func (p *parser) contentType(h textproto.Header, parentType string) (string, map[string]string) {
	def := "text/plain"
	if parentType == "multipart/digest" {
		def = "message/rfc822"
	}
	v := h.Get("Content-Type")
	if strings.TrimSpace(v) == "" {
		return def, map[string]string{}
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		mt, params = lenientMediaType(v)
		if mt == "" || !strings.Contains(mt, "/") {
			p.warn(fmt.Sprintf("unreadable Content-Type %q; treated as %s", truncate(v, 80), def))
			return def, params
		}
	}
	return strings.ToLower(mt), params
}

func (p *parser) disposition(h textproto.Header) (string, map[string]string) {
	v := h.Get("Content-Disposition")
	if strings.TrimSpace(v) == "" {
		return "", map[string]string{}
	}
	d, params, err := mime.ParseMediaType(v)
	if err != nil {
		d, params = lenientMediaType(v)
	}
	return strings.ToLower(d), params
}

var paramRe = regexp.MustCompile(`(?i)([a-z0-9_\-*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))`)

// lenientMediaType reads "type/sub; k=v; k2="v2"" when mime.ParseMediaType
// refuses it (duplicate parameters, raw 8-bit names, stray semicolons).
// RFC 2231 continuations are not joined here.
func lenientMediaType(v string) (string, map[string]string) {
	params := map[string]string{}
	mt, rest, _ := strings.Cut(v, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	for _, m := range paramRe.FindAllStringSubmatch(rest, -1) {
		key := strings.ToLower(m[1])
		if _, dup := params[key]; dup {
			continue
		}
		if m[2] != "" {
			params[key] = strings.ReplaceAll(m[2], `\"`, `"`)
		} else {
			params[key] = m[3]
		}
	}
	return mt, params
}

var metaCharsetRe = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_:.\-]+)`)

func (p *parser) textPart(h textproto.Header, mediaType string, params map[string]string, body []byte) bodyText {
	data, err := decodeTransfer(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		p.warn(fmt.Sprintf("%s body: %v", mediaType, err))
	}
	charset := params["charset"]
	if charset == "" && mediaType == "text/html" {
		head := data[:min(len(data), 4096)]
		if m := metaCharsetRe.FindSubmatch(head); m != nil {
			charset = string(m[1])
		}
	}
	text := decodeCharset(data, charset, p.warn)
	text = normalizeNewlines(text)
	if mediaType == "text/html" {
		return bodyText{html: []string{text}}
	}
	if strings.EqualFold(params["format"], "flowed") {
		text = unflow(text, strings.EqualFold(params["delsp"], "yes"))
	}
	return bodyText{plain: []string{text}}
}

func (p *parser) attachment(h textproto.Header, mediaType, disposition, filename string, body []byte) {
	data, err := decodeTransfer(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		p.warn(fmt.Sprintf("attachment %q: %v", filename, err))
	}
	a := Attachment{
		Filename:    filename,
		ContentType: mediaType,
		ContentID:   NormalizeMessageID(h.Get("Content-Id")),
		Inline:      disposition == "inline" || (disposition == "" && h.Get("Content-Id") != ""),
		Size:        int64(len(data)),
	}
	switch {
	case a.Size > p.limits.MaxAttachmentSize:
		a.Skipped = true
		a.SkipReason = fmt.Sprintf("attachment of %d bytes exceeds the per-attachment limit of %d bytes", a.Size, p.limits.MaxAttachmentSize)
	case p.attachTotal+a.Size > p.limits.MaxTotalAttachmentSize:
		a.Skipped = true
		a.SkipReason = fmt.Sprintf("attachment of %d bytes would exceed the total attachment limit of %d bytes", a.Size, p.limits.MaxTotalAttachmentSize)
	default:
		a.Data = data
		p.attachTotal += a.Size
	}
	if a.Skipped {
		p.warn(fmt.Sprintf("skipped attachment %q: %s", filename, a.SkipReason))
	}
	p.msg.Attachments = append(p.msg.Attachments, a)
}

func (p *parser) setBody(bt bodyText) {
	m := p.msg
	plain := strings.Join(bt.plain, "\n")
	m.HTML = p.capText("HTML body", strings.Join(bt.html, "\n"))
	if strings.TrimSpace(plain) == "" && m.HTML != "" {
		plain = htmlToText(m.HTML)
	}
	m.Text = p.capText("text body", plain)
	m.Stripped = StripQuoted(m.Text)
}

func (p *parser) capText(what, s string) string {
	limit := int(min(p.limits.MaxTextSize, int64(^uint(0)>>1)))
	if len(s) <= limit {
		return s
	}
	p.warn(fmt.Sprintf("%s of %d bytes cut to %d bytes", what, len(s), limit))
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// unflow joins the soft line breaks of format=flowed text (RFC 3676).
func unflow(text string, delsp bool) string {
	var (
		out      []string
		cur      strings.Builder
		curDepth = -1
	)
	flush := func() {
		if curDepth < 0 {
			return
		}
		prefix := ""
		if curDepth > 0 {
			prefix = strings.Repeat(">", curDepth) + " "
		}
		out = append(out, prefix+cur.String())
		cur.Reset()
		curDepth = -1
	}
	for _, line := range strings.Split(text, "\n") {
		depth := 0
		for depth < len(line) && line[depth] == '>' {
			depth++
		}
		content := strings.TrimPrefix(line[depth:], " ") // space-stuffing
		if curDepth >= 0 && depth != curDepth {
			flush()
		}
		if content == "-- " {
			flush()
			curDepth = depth
			cur.WriteString(content)
			flush()
			continue
		}
		flowed := strings.HasSuffix(content, " ")
		if flowed && delsp {
			content = content[:len(content)-1]
		}
		cur.WriteString(content)
		curDepth = depth
		if !flowed {
			flush()
		}
	}
	flush()
	return strings.Join(out, "\n")
}
