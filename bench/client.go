package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// apiClient calls Kanri's HTTP API as a client program would.
type apiClient struct {
	base      string
	token     string
	http      *http.Client
	transport *http.Transport
}

// newAPIClient keeps an idle connection for each of conns concurrent
// callers: with net/http's default of two per host, the others would open
// a new connection for every request, and the benchmark would measure TCP
// handshakes and TIME_WAIT instead of Kanri.
func newAPIClient(base, token string, conns int) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = max(conns, tr.MaxIdleConns)
	tr.MaxIdleConnsPerHost = max(conns, 2)
	return &apiClient{
		base:      strings.TrimRight(base, "/"),
		token:     token,
		http:      &http.Client{Transport: tr, Timeout: time.Minute},
		transport: tr,
	}
}

func (c *apiClient) close() { c.transport.CloseIdleConnections() }

// call sends a request and decodes the answer into out when the status is
// want; any other status is an error that quotes the problem document.
func (c *apiClient) call(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() {
		// Read to the end, so that the connection goes back to the pool.
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}()
	if res.StatusCode != want {
		problem, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("%s %s: status %d: %s", method, path, res.StatusCode, bytes.TrimSpace(problem))
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// newIncident is the body of POST /api/v1/incidents.
type newIncident struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Service     string `json:"service"`
	Impact      string `json:"impact"`
	Urgency     string `json:"urgency"`
}

// caseRef is the part of a record the benchmark checks.
type caseRef struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Priority string `json:"priority"`
}

func (c *apiClient) openIncident(ctx context.Context, in newIncident) (caseRef, error) {
	var rec caseRef
	if err := c.call(ctx, http.MethodPost, "/api/v1/incidents", in, http.StatusCreated, &rec); err != nil {
		return caseRef{}, err
	}
	if rec.ID == "" {
		return caseRef{}, fmt.Errorf("POST /api/v1/incidents: the record has no id")
	}
	return rec, nil
}

func (c *apiClient) getIncident(ctx context.Context, id string) (caseRef, error) {
	var rec caseRef
	err := c.call(ctx, http.MethodGet, "/api/v1/incidents/"+id, nil, http.StatusOK, &rec)
	return rec, err
}

// listIncidents runs one filtered list request and returns the page's
// length.
func (c *apiClient) listIncidents(ctx context.Context, query string) (int, error) {
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := c.call(ctx, http.MethodGet, "/api/v1/incidents?"+query, nil, http.StatusOK, &page); err != nil {
		return 0, err
	}
	return len(page.Items), nil
}
