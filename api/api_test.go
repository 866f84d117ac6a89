package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
)

func TestErrorIs(t *testing.T) {
	err := fmt.Errorf("start: %w", &api.Error{Code: api.CodeNotFound, Message: `no service "x"`})
	//lint:ignore SA1032 the reversed call is the point: a sentinel is not an error that wraps it
	got := []bool{errors.Is(err, api.ErrNotFound), errors.Is(err, api.ErrInvalidConfig), errors.Is(api.ErrNotFound, err)}
	if diff := cmp.Diff([]bool{true, false, false}, got); diff != "" {
		t.Errorf("errors.Is (-want +got):\n%s", diff)
	}
}

func TestCodeStatus(t *testing.T) {
	got := map[api.Code]int{}
	for _, c := range []api.Code{api.CodeBadRequest, api.CodeInvalidConfig, api.CodeNotFound, api.CodeConflict, api.CodeUnavailable, api.CodeInternal, "made-up"} {
		got[c] = c.Status()
	}
	want := map[api.Code]int{
		api.CodeBadRequest: http.StatusBadRequest, api.CodeInvalidConfig: http.StatusUnprocessableEntity,
		api.CodeNotFound: http.StatusNotFound, api.CodeConflict: http.StatusConflict,
		api.CodeUnavailable: http.StatusServiceUnavailable, api.CodeInternal: http.StatusInternalServerError,
		"made-up": http.StatusInternalServerError,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestDurationJSON(t *testing.T) {
	b, err := json.Marshal(api.StopRequest{Timeout: api.Duration(90 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	var back api.StopRequest
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{"config":"","timeout":"1m30s"}`, string(b)); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	if back.Timeout != api.Duration(90*time.Second) {
		t.Errorf("round trip: %v", time.Duration(back.Timeout))
	}
	if err := json.Unmarshal([]byte(`{"timeout":"soon"}`), &back); err == nil {
		t.Error("a bad duration was accepted")
	}
}
