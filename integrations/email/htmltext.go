package email

import (
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlToText renders an HTML mail body as readable plain text: block
// elements become line breaks, list items get bullets, links keep their
// target, scripts and styles vanish, and <blockquote> content is prefixed
// with "> " so that StripQuoted removes quoted replies from HTML-only mail
// the same way as from plain text.
func htmlToText(src string) string {
	r := &htmlRenderer{}
	z := html.NewTokenizer(strings.NewReader(src))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return r.result()
		case html.TextToken:
			if r.skip == 0 {
				r.text(string(z.Text()))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			tn, hasAttr := z.TagName()
			a := atom.Lookup(tn)
			attrs := map[string]string{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				attrs[string(k)] = string(v)
			}
			r.start(a, attrs, tt == html.SelfClosingTagToken)
		case html.EndTagToken:
			tn, _ := z.TagName()
			r.end(atom.Lookup(tn))
		}
	}
}

// maxHTMLNesting bounds the nesting the renderer reproduces (quote
// prefixes, list indents, open links).
const maxHTMLNesting = 16

type htmlRenderer struct {
	out          strings.Builder
	skip         int // inside <script>, <style>, <head>, ...
	pre          int
	quote        int
	lists        []int // per open list: -1 for <ul>, else the next <ol> number
	pendingBreak int
	pendingSpace bool
	lineStart    bool
	links        []string // href of each open <a>
	linkStart    []int    // output offset where each open <a> began
}

func (r *htmlRenderer) breakLines(n int) {
	if r.out.Len() == 0 {
		return
	}
	r.pendingBreak = max(r.pendingBreak, n)
	r.pendingSpace = false
}

// emit writes a run of text that contains no line break.
func (r *htmlRenderer) emit(s string) {
	if s == "" {
		return
	}
	if r.pendingBreak > 0 {
		r.out.WriteString(strings.Repeat("\n", r.pendingBreak))
		r.pendingBreak = 0
		r.lineStart = true
	}
	if r.out.Len() == 0 {
		r.lineStart = true
	}
	if r.lineStart {
		r.out.WriteString(strings.Repeat("> ", min(r.quote, maxHTMLNesting)))
		r.lineStart = false
	} else if r.pendingSpace {
		r.out.WriteByte(' ')
	}
	r.pendingSpace = false
	r.out.WriteString(s)
}

func (r *htmlRenderer) text(s string) {
	if r.pre > 0 {
		for i, line := range strings.Split(s, "\n") {
			if i > 0 {
				r.pendingBreak++
				if r.out.Len() == 0 {
					r.pendingBreak = 0
				}
			}
			r.emit(line)
		}
		return
	}
	if s == "" {
		return
	}
	words := strings.Fields(s)
	if isHTMLSpace(s[0]) && !r.lineStart && r.out.Len() > 0 {
		r.pendingSpace = true
	}
	for i, w := range words {
		if i > 0 {
			r.pendingSpace = true
		}
		r.emit(w)
	}
	if len(words) > 0 && isHTMLSpace(s[len(s)-1]) {
		r.pendingSpace = true
	}
}

func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

func (r *htmlRenderer) start(a atom.Atom, attrs map[string]string, selfClosing bool) {
	switch a {
	case atom.Script, atom.Style, atom.Head, atom.Title, atom.Template, atom.Object, atom.Svg:
		if !selfClosing {
			r.skip++
		}
	case atom.Br:
		if r.out.Len() > 0 {
			r.pendingBreak = min(r.pendingBreak+1, 2) // more is one blank line anyway
			r.pendingSpace = false
		}
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Table, atom.Hr:
		r.breakLines(2)
	case atom.Div, atom.Tr, atom.Dt, atom.Dd, atom.Section, atom.Article, atom.Header,
		atom.Footer, atom.Address, atom.Center, atom.Form, atom.Fieldset, atom.Dl, atom.Figure, atom.Main, atom.Nav, atom.Aside:
		r.breakLines(1)
	case atom.Pre:
		r.breakLines(1)
		r.pre++
	case atom.Blockquote:
		r.breakLines(1)
		r.quote++
	case atom.Ul:
		r.breakLines(1)
		r.lists = append(r.lists, -1)
	case atom.Ol:
		r.breakLines(1)
		r.lists = append(r.lists, 1)
	case atom.Li:
		r.breakLines(1)
		bullet := "-"
		if n := len(r.lists); n > 0 && r.lists[n-1] > 0 {
			bullet = fmt.Sprintf("%d.", r.lists[n-1])
			r.lists[n-1]++
		}
		indent := strings.Repeat("  ", min(max(len(r.lists)-1, 0), maxHTMLNesting))
		r.emit(indent + bullet)
		r.pendingSpace = true
	case atom.Td, atom.Th:
		r.pendingSpace = true
	case atom.A:
		// Unclosed links nest; tracking a few is enough and keeps hostile
		// markup from making every word cost as much as the open links.
		if !selfClosing && len(r.links) < maxHTMLNesting {
			r.links = append(r.links, attrs["href"])
			r.linkStart = append(r.linkStart, r.out.Len())
		}
	case atom.Img:
		if alt := strings.TrimSpace(attrs["alt"]); alt != "" {
			r.pendingSpace = r.pendingSpace || !r.lineStart
			r.emit("[" + alt + "]")
		}
	}
}

func (r *htmlRenderer) end(a atom.Atom) {
	switch a {
	case atom.Script, atom.Style, atom.Head, atom.Title, atom.Template, atom.Object, atom.Svg:
		if r.skip > 0 {
			r.skip--
		}
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Table:
		r.breakLines(2)
	case atom.Div, atom.Tr, atom.Dt, atom.Dd, atom.Section, atom.Article, atom.Header,
		atom.Footer, atom.Address, atom.Center, atom.Form, atom.Fieldset, atom.Dl, atom.Figure, atom.Main, atom.Nav, atom.Aside, atom.Li:
		r.breakLines(1)
	case atom.Pre:
		if r.pre > 0 {
			r.pre--
		}
		r.breakLines(1)
	case atom.Blockquote:
		if r.quote > 0 {
			r.quote--
		}
		r.breakLines(1)
	case atom.Ul, atom.Ol:
		if n := len(r.lists); n > 0 {
			r.lists = r.lists[:n-1]
		}
		r.breakLines(1)
	case atom.A:
		n := len(r.links)
		if n == 0 {
			return
		}
		href, text := r.links[n-1], r.out.String()[r.linkStart[n-1]:]
		r.links, r.linkStart = r.links[:n-1], r.linkStart[:n-1]
		if target := linkTarget(href); target != "" && !strings.Contains(text, target) {
			r.pendingSpace = true
			r.emit("(" + target + ")")
		}
	}
}

// linkTarget returns what is worth showing of an href: web and mail links,
// not anchors or javascript.
func linkTarget(href string) string {
	href = strings.TrimSpace(href)
	lower := strings.ToLower(href)
	switch {
	case strings.HasPrefix(lower, "mailto:"):
		return href[len("mailto:"):]
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		return href
	}
	return ""
}

var blankLinesRe = regexp.MustCompile(`\n{3,}`)

func (r *htmlRenderer) result() string {
	lines := strings.Split(r.out.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.ReplaceAll(l, "\u00a0", " "), " \t")
	}
	s := strings.Join(lines, "\n")
	s = blankLinesRe.ReplaceAllString(s, "\n\n")
	return strings.Trim(s, "\n")
}
