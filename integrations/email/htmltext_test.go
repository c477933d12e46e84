package email

import "testing"

func TestHTMLToText(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"paragraphs and breaks", "<p>one</p><p>two<br>three<br><br>four</p>", "one\n\ntwo\nthree\n\nfour"},
		{"divs", "<div>a</div><div>b</div>", "a\nb"},
		{"ordered list", "<ol><li>first</li><li>second</li></ol>", "1. first\n2. second"},
		{"nested list", "<ul><li>a<ul><li>b</li></ul></li></ul>", "- a\n  - b"},
		{"link shown once", `<a href="https://x.example/a">https://x.example/a</a>`, "https://x.example/a"},
		{"mailto link", `<a href="mailto:help@kanri.example">write us</a>`, "write us (help@kanri.example)"},
		{"javascript link dropped", `<a href="javascript:alert(1)">click</a>`, "click"},
		{"entities", "Fish &amp; chips &lt;3 &#x1F600;", "Fish & chips <3 😀"},
		{"pre keeps layout", "<pre>a  b\n  c</pre>", "a  b\n  c"},
		{"table cells", "<table><tr><td>Name</td><td>Value</td></tr><tr><td>CPU</td><td>90%</td></tr></table>", "Name Value\nCPU 90%"},
		{"image alt", `<p>logo: <img src="x.png" alt="ACME"></p>`, "logo: [ACME]"},
		{"nested blockquote", "<p>new</p><blockquote>old<blockquote>older</blockquote></blockquote>", "new\n\n> old\n> > older"},
		{"hidden content", "<style>.a{}</style><script>x()</script><p>seen</p>", "seen"},
		{"broken markup", "<p>unclosed <b>bold <i>both", "unclosed bold both"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := htmlToText(tc.in); got != tc.want {
				t.Errorf("htmlToText =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
