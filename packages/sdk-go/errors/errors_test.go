package errors

import (
	stderrors "errors"
	"fmt"
	"strings"
	"testing"

	streambusv1 "github.com/streambus/streambus/packages/sdk-go/gen/streambus/v1"
)

func TestTableCoversEveryProtoCode(t *testing.T) {
	if len(Codes) != len(streambusv1.ErrorCode_name) {
		t.Fatalf("table has %d codes, proto enum has %d", len(Codes), len(streambusv1.ErrorCode_name))
	}
	for number, protoName := range streambusv1.ErrorCode_name {
		info, ok := byCode[Code(number)]
		if !ok {
			t.Errorf("code %d (%s) missing from the table", number, protoName)
			continue
		}
		if want := strings.TrimPrefix(protoName, "ERROR_CODE_"); info.Name != want {
			t.Errorf("code %d: table name %q, proto name %q", number, info.Name, want)
		}
	}
}

func TestTableHasNoDuplicates(t *testing.T) {
	seen := map[Code]bool{}
	for _, info := range Codes {
		if seen[info.Code] {
			t.Errorf("code %d listed twice", info.Code)
		}
		seen[info.Code] = true
	}
}

func TestRetriableFollowsKafka(t *testing.T) {
	cases := map[Code]bool{
		streambusv1.ErrorCode_ERROR_CODE_NONE:                   false,
		streambusv1.ErrorCode_ERROR_CODE_NOT_LEADER_OR_FOLLOWER: true,
		streambusv1.ErrorCode_ERROR_CODE_NOT_ENOUGH_REPLICAS:    true,
		streambusv1.ErrorCode_ERROR_CODE_OFFSET_OUT_OF_RANGE:    false,
		streambusv1.ErrorCode_ERROR_CODE_INVALID_RECORD:         false,
		streambusv1.ErrorCode_ERROR_CODE_UNKNOWN_SERVER_ERROR:   false,
		Code(9999): false,
	}
	for code, want := range cases {
		if got := IsRetriable(code); got != want {
			t.Errorf("IsRetriable(%s) = %v, want %v", Name(code), got, want)
		}
	}
}

func TestNameOfUnknownCode(t *testing.T) {
	if got := Name(Code(9999)); got != "UNKNOWN_ERROR_CODE_9999" {
		t.Fatalf("Name(9999) = %q", got)
	}
	if got := Name(streambusv1.ErrorCode_ERROR_CODE_FENCED_LEADER_EPOCH); got != "FENCED_LEADER_EPOCH" {
		t.Fatalf("Name(FENCED_LEADER_EPOCH) = %q", got)
	}
}

func TestErrorRoundTripAndMatching(t *testing.T) {
	if FromProto(nil, nil) != nil || FromProto(&streambusv1.Error{}, nil) != nil {
		t.Fatal("an absent or NONE error must mean success")
	}
	hint := &streambusv1.LeaderHint{LeaderId: 3, LeaderEpoch: 7}
	e := FromProto(&streambusv1.Error{Code: streambusv1.ErrorCode_ERROR_CODE_NOT_LEADER_OR_FOLLOWER, Message: "moved"}, hint)
	if e == nil || !e.Retriable || *e.LeaderID != 3 || *e.LeaderEpoch != 7 {
		t.Fatalf("unexpected %#v", e)
	}
	wrapped := fmt.Errorf("produce: %w", e)
	if !stderrors.Is(wrapped, New(streambusv1.ErrorCode_ERROR_CODE_NOT_LEADER_OR_FOLLOWER, "")) {
		t.Fatal("errors.Is must match by code")
	}
	if stderrors.Is(wrapped, New(streambusv1.ErrorCode_ERROR_CODE_FENCED_LEADER_EPOCH, "")) {
		t.Fatal("errors.Is must not match another code")
	}
	var target *Error
	if !stderrors.As(wrapped, &target) || target.Error() != "NOT_LEADER_OR_FOLLOWER: moved" {
		t.Fatalf("errors.As: %v", target)
	}
	back := FromProto(e.ToProto(), nil)
	if back.Code != e.Code || back.Message != e.Message || back.Retriable != e.Retriable {
		t.Fatalf("round trip: %#v vs %#v", back, e)
	}
	// A code this build does not know keeps the server's retriable flag.
	unknown := FromProto(&streambusv1.Error{Code: Code(9999), Retriable: true}, nil)
	if !unknown.Retriable {
		t.Fatal("unknown code must keep the server's retriable flag")
	}
}
