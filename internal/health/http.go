package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// HTTPOptions describe an HTTP health check.
type HTTPOptions struct {
	// URL is the final (rendered) http:// or https:// URL.
	URL string
	// Method defaults to GET.
	Method string
	// Headers are sent with the request; "Host" sets the request's host.
	Headers map[string]string
	// ExpectedStatus is an exact status such as "200" or a class such as "2xx"; empty means
	// "2xx". Redirects are not followed: a 3xx response is judged against ExpectedStatus.
	ExpectedStatus string
	// BodyContains, when set, must occur in the first 64 KiB of the response body.
	BodyContains string
	// Client sends the request. Nil means a client without keep-alives or proxy, so that
	// every check opens a new connection, as a new client of the service would, and no idle
	// connection outlives a check. A given client is copied and its redirect policy replaced.
	Client *http.Client
}

// statusMatch is a parsed ExpectedStatus: an exact code, or a class (code/100) when exact is
// false.
type statusMatch struct {
	code  int
	exact bool
	text  string
}

func parseStatus(s string) (statusMatch, error) {
	if s == "" {
		s = "2xx"
	}
	if len(s) == 3 && s[0] >= '1' && s[0] <= '5' {
		if strings.EqualFold(s[1:], "xx") {
			return statusMatch{code: int(s[0] - '0'), text: strings.ToLower(s)}, nil
		}
		if n, err := strconv.Atoi(s); err == nil && n >= 100 {
			return statusMatch{code: n, exact: true, text: s}, nil
		}
	}
	return statusMatch{}, fmt.Errorf("expected status %q: want a status such as 200 or a class such as 2xx", s)
}

func (m statusMatch) matches(code int) bool {
	if m.exact {
		return code == m.code
	}
	return code/100 == m.code
}

// httpChecker is the Checker that HTTP returns.
type httpChecker struct {
	url     string
	method  string
	headers map[string]string
	status  statusMatch
	body    string
	client  *http.Client
}

// HTTP returns a Checker that sends one request and is healthy when the response status
// matches ExpectedStatus and, if BodyContains is set, the body contains it. It reports an
// invalid URL, method or ExpectedStatus.
func HTTP(o HTTPOptions) (Checker, error) {
	c, err := newHTTP(o)
	if err != nil {
		return nil, fmt.Errorf("http check: %w", err)
	}
	return c, nil
}

func newHTTP(o HTTPOptions) (*httpChecker, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("want an http:// or https:// URL, got %q", o.URL)
	}
	st, err := parseStatus(o.ExpectedStatus)
	if err != nil {
		return nil, err
	}
	method := o.Method
	if method == "" {
		method = http.MethodGet
	}
	// NewRequest validates the method; building one here reports a bad one up front.
	if _, err := http.NewRequest(method, o.URL, nil); err != nil {
		return nil, err
	}
	var client http.Client
	if o.Client != nil {
		client = *o.Client // a shallow copy: only CheckRedirect changes
	} else {
		client.Transport = &http.Transport{DisableKeepAlives: true}
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &httpChecker{
		url: o.URL, method: method, headers: o.Headers, status: st, body: o.BodyContains, client: &client,
	}, nil
}

// Check implements Checker.
func (c *httpChecker) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, nil)
	if err != nil {
		return fmt.Errorf("%s %s: %w", c.method, c.url, err)
	}
	for k, v := range c.headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		// Do wraps as `Get "URL": cause`; say it once, the house way.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("%s %s: %w", c.method, c.url, err)
	}
	defer resp.Body.Close()
	if !c.status.matches(resp.StatusCode) {
		return fmt.Errorf("%s %s: status %d, want %s", c.method, c.url, resp.StatusCode, c.status.text)
	}
	if c.body == "" {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRead))
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", c.method, c.url, err)
	}
	if !strings.Contains(string(body), c.body) {
		return fmt.Errorf("%s %s: status %d, body does not contain %q", c.method, c.url, resp.StatusCode, c.body)
	}
	return nil
}
