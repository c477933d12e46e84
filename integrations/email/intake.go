package email

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// poll drains the folder: every message after the cursor, in UID order, in
// batches.
func (p *Poller) poll(ctx context.Context, c *imapclient.Client) (PollStats, error) {
	var total PollStats
	for {
		stats, more, err := p.pollBatch(ctx, c)
		total.add(stats)
		if err != nil || !more {
			return total, err
		}
	}
}

func (p *Poller) pollBatch(ctx context.Context, c *imapclient.Client) (stats PollStats, more bool, err error) {
	mb := p.Mailbox
	sel, err := c.Select(mb.folder(), nil).Wait()
	if err != nil {
		return stats, false, fmt.Errorf("email: mailbox %s: select %s: %w", mb.Name, mb.folder(), err)
	}
	cur, err := p.Cursors.Load(ctx, mb.Name)
	if err != nil {
		return stats, false, fmt.Errorf("email: mailbox %s: load cursor: %w", mb.Name, err)
	}
	if cur.UIDValidity != sel.UIDValidity {
		if cur.UIDValidity != 0 {
			p.logger().Warn("email: UIDVALIDITY changed; rescanning the folder", "mailbox", mb.Name,
				"old", cur.UIDValidity, "new", sel.UIDValidity)
		}
		cur = Cursor{UIDValidity: sel.UIDValidity}
		if err := p.Cursors.Save(ctx, mb.Name, cur); err != nil {
			return stats, false, fmt.Errorf("email: mailbox %s: save cursor: %w", mb.Name, err)
		}
	}
	if sel.NumMessages == 0 {
		return stats, false, nil
	}

	// Sizes and flags of everything after the cursor. "n:*" also matches
	// the last message when n is past it, hence the filter.
	metas, err := c.Fetch(imap.UIDSet{{Start: imap.UID(cur.LastUID + 1), Stop: 0}},
		&imap.FetchOptions{UID: true, RFC822Size: true, Flags: true}).Collect()
	if err != nil {
		return stats, false, fmt.Errorf("email: mailbox %s: fetch sizes: %w", mb.Name, err)
	}
	metas = slices.DeleteFunc(metas, func(m *imapclient.FetchMessageBuffer) bool {
		// \Deleted mail is on its way out: a fallback move whose EXPUNGE
		// did not happen (handled already), or mail a person deleted.
		return uint32(m.UID) <= cur.LastUID || slices.Contains(m.Flags, imap.FlagDeleted)
	})
	slices.SortFunc(metas, func(a, b *imapclient.FetchMessageBuffer) int { return cmp.Compare(a.UID, b.UID) })
	batch := max(p.BatchSize, 0)
	if batch == 0 {
		batch = DefaultBatchSize
	}
	if len(metas) > batch {
		metas, more = metas[:batch], true
	}

	// The cursor advances over the handled prefix only; a deferred message
	// holds it back so that it is read again. With a processed folder, the
	// mail after a deferred one is still handled (it leaves the folder once
	// handled); without one, handling stops at the deferred message, since
	// the cursor is then all that keeps handled mail from being handled
	// again.
	last, blocked := cur.LastUID, false
	defer func() {
		if last != cur.LastUID {
			// Progress is saved even when ctx was cancelled mid-batch.
			saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if serr := p.Cursors.Save(saveCtx, mb.Name, Cursor{UIDValidity: sel.UIDValidity, LastUID: last}); serr != nil && err == nil {
				err = fmt.Errorf("email: mailbox %s: save cursor: %w", mb.Name, serr)
			}
		}
	}()
	for _, m := range metas {
		if err := ctx.Err(); err != nil {
			return stats, false, err
		}
		outcome, err := p.processOne(ctx, c, m)
		if err != nil {
			return stats, false, err
		}
		switch outcome {
		case outcomeHandled:
			stats.Handled++
		case outcomeFailed:
			stats.Failed++
		case outcomeGone:
		case outcomeDeferred:
			stats.Deferred++
			blocked = true
			if mb.ProcessedFolder == "" {
				return stats, false, nil
			}
			continue
		}
		if !blocked {
			last = uint32(m.UID)
		}
	}
	// Everything below UIDNEXT at SELECT time was in the fetch above: when
	// none of it was held back, the cursor can skip the gaps.
	if !blocked && !more && sel.UIDNext > 0 {
		last = max(last, uint32(sel.UIDNext)-1)
	}
	// A full batch that only deferred mail would be fetched again as it
	// is: leave it to the next poll instead of spinning.
	if stats.Handled+stats.Failed == 0 {
		more = false
	}
	return stats, more, nil
}

type outcome int

const (
	outcomeHandled outcome = iota
	outcomeFailed
	outcomeDeferred
	outcomeGone // expunged by someone else before it was read
)

// processOne handles one message. An error means the connection is no
// longer usable; everything else is an outcome.
func (p *Poller) processOne(ctx context.Context, c *imapclient.Client, meta *imapclient.FetchMessageBuffer) (outcome, error) {
	uid, limit := meta.UID, p.Mailbox.maxSize()
	if meta.RFC822Size > limit {
		return p.refuseOversize(ctx, c, uid, meta.RFC822Size)
	}
	raw, found, tooBig, err := fetchBody(c, uid, limit)
	switch {
	case err != nil:
		return 0, fmt.Errorf("email: mailbox %s: fetch UID %d: %w", p.Mailbox.Name, uid, err)
	case !found:
		return outcomeGone, nil
	case tooBig:
		// The server understated RFC822.SIZE.
		return p.refuseOversize(ctx, c, uid, limit+1)
	}
	msg, parseErr := Parse(raw, p.Limits)
	return p.deliver(ctx, c, uid, raw, msg, parseErr)
}

func (p *Poller) refuseOversize(ctx context.Context, c *imapclient.Client, uid imap.UID, size int64) (outcome, error) {
	header, err := fetchHeader(c, uid)
	if err != nil {
		return 0, fmt.Errorf("email: mailbox %s: fetch header of UID %d: %w", p.Mailbox.Name, uid, err)
	}
	// The header alone still tells the Handler who sent what.
	msg, _ := Parse(header, p.Limits)
	return p.deliver(ctx, c, uid, nil, msg, &OversizeError{Size: size, Limit: p.Mailbox.maxSize()})
}

func (p *Poller) deliver(ctx context.Context, c *imapclient.Client, uid imap.UID, raw []byte, msg *Message, parseErr error) (outcome, error) {
	mb := p.Mailbox
	if err := p.Handler.Handle(ctx, mb.Name, uint32(uid), raw, msg, parseErr); err != nil {
		p.logger().Warn("email: handler failed; the mail stays for the next poll", "mailbox", mb.Name, "uid", uid, "err", err)
		return outcomeDeferred, nil
	}
	result, dest := outcomeHandled, mb.ProcessedFolder
	if parseErr != nil {
		result, dest = outcomeFailed, mb.failedFolder()
	}

	set := imap.UIDSetNum(uid)
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
		if !isIMAPResponse(err) {
			return 0, fmt.Errorf("email: mailbox %s: mark UID %d seen: %w", mb.Name, uid, err)
		}
		p.logger().Warn("email: cannot mark mail seen", "mailbox", mb.Name, "uid", uid, "err", err)
	}
	if dest == "" {
		return result, nil
	}
	if _, err := c.Move(set, dest).Wait(); err != nil {
		if !isIMAPResponse(err) {
			// The connection broke: the mail may be handled again after
			// the reconnect, which the Handler's idempotency absorbs.
			return 0, fmt.Errorf("email: mailbox %s: move UID %d to %s: %w", mb.Name, uid, dest, err)
		}
		// The server refused (a missing folder, a quota): the mail was
		// handled, so the cursor moves past it and it stays in place.
		p.logger().Error("email: cannot move handled mail; it stays in the intake folder", "mailbox", mb.Name, "uid", uid, "folder", dest, "err", err)
	}
	return result, nil
}

// isIMAPResponse tells a NO/BAD answer from the server, after which the
// connection is still usable, from a broken connection.
func isIMAPResponse(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie)
}

// fetchBody downloads one message, reading at most limit bytes; tooBig is
// set when there was more.
func fetchBody(c *imapclient.Client, uid imap.UID, limit int64) (raw []byte, found, tooBig bool, err error) {
	cmd := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		for item := msg.Next(); item != nil; item = msg.Next() {
			section, ok := item.(imapclient.FetchItemDataBodySection)
			if !ok || section.Literal == nil {
				continue
			}
			b, rerr := io.ReadAll(io.LimitReader(section.Literal, limit+1))
			if rerr != nil {
				err = rerr
				continue
			}
			found = true
			if int64(len(b)) > limit {
				tooBig = true
				b = nil
			}
			raw = b
		}
	}
	if cerr := cmd.Close(); err == nil {
		err = cerr
	}
	return raw, found, tooBig, err
}

// maxHeaderFetch bounds the header download of a refused message.
const maxHeaderFetch = 256 << 10

func fetchHeader(c *imapclient.Client, uid imap.UID) ([]byte, error) {
	bufs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
		UID: true,
		BodySection: []*imap.FetchItemBodySection{{
			Specifier: imap.PartSpecifierHeader,
			Peek:      true,
			Partial:   &imap.SectionPartial{Offset: 0, Size: maxHeaderFetch},
		}},
	}).Collect()
	if err != nil {
		return nil, err
	}
	for _, b := range bufs {
		for _, s := range b.BodySection {
			return s.Bytes, nil
		}
	}
	return nil, nil
}
