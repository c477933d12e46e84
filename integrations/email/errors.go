package email

import "fmt"

// ParseError reports a message whose structure cannot be read: a malformed
// header block, a multipart body without a usable boundary, nesting or part
// counts past the limits. The intake moves such mail to the failed folder
// with Reason.
//
// Parse returns a *ParseError together with whatever it could read before
// the failure (often the decoded headers), so the caller can still record
// who sent it.
type ParseError struct {
	// Reason is a short, stable description ("malformed header",
	// "multipart without boundary", ...).
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *ParseError) Error() string {
	if e.Err == nil {
		return "email: broken message: " + e.Reason
	}
	return fmt.Sprintf("email: broken message: %s: %v", e.Reason, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// OversizeError reports a message refused for its size before its body was
// fetched. The intake passes it to the Handler as the parse error.
type OversizeError struct {
	Size  int64
	Limit int64
}

func (e *OversizeError) Error() string {
	return fmt.Sprintf("email: message of %d bytes exceeds the limit of %d bytes", e.Size, e.Limit)
}
