package usertask

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// httpRunner POSTs the input to a service; the response body is the result.
type httpRunner struct {
	url       string
	maxOutput int
	client    *http.Client
}

func newHTTPRunner(sp Spec) *httpRunner {
	return &httpRunner{
		url:       sp.HTTP,
		maxOutput: int(sp.MaxOutput),
		client: &http.Client{
			// No proxy from the environment: the service is local. A
			// redirect is not followed: it could point anywhere.
			Transport:     &http.Transport{MaxIdleConnsPerHost: 4},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

func (r *httpRunner) Run(ctx context.Context, input []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(input))
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := r.client.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return nil, cause
		}
		return nil, fmt.Errorf("POST %s: %w", r.url, errors.Unwrap(err)) // *url.Error repeats the URL
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(r.maxOutput)+1))
	switch {
	case err != nil && context.Cause(ctx) != nil:
		return nil, context.Cause(ctx)
	case err != nil:
		return nil, fmt.Errorf("reading the response: %w", err)
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, fmt.Errorf("%s: redirects are not followed (to %q)", resp.Status, resp.Header.Get("Location"))
	case resp.StatusCode >= 400 || resp.StatusCode < 200:
		if line := firstLine(body); line != "" {
			return nil, fmt.Errorf("%s: %s", resp.Status, line)
		}
		return nil, fmt.Errorf("%s", resp.Status)
	case len(body) > r.maxOutput:
		return nil, fmt.Errorf("output exceeds max-output (%d bytes)", r.maxOutput)
	}
	return body, nil
}
