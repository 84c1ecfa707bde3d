package errors

import (
	stderrors "errors"
	"fmt"
	"os"
	"strings"
	"testing"

	streambusv1 "github.com/streambus/streambus/packages/sdk-go/gen/streambus/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
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

func TestTrailerRoundTrip(t *testing.T) {
	id, epoch := int32(4), int32(11)
	sent := &Error{Code: streambusv1.ErrorCode_ERROR_CODE_NOT_LEADER_OR_FOLLOWER, Message: "moved", Retriable: true, LeaderID: &id, LeaderEpoch: &epoch}
	md, st := sent.Trailer()
	if st.Code() != codes.Unavailable {
		t.Fatalf("status %v", st.Code())
	}
	got := FromGRPC(st.Err(), md)
	var e *Error
	if !stderrors.As(got, &e) {
		t.Fatalf("not an *Error: %v", got)
	}
	if e.Code != sent.Code || e.Message != "moved" || !e.Retriable || *e.LeaderID != 4 || *e.LeaderEpoch != 11 {
		t.Fatalf("round trip: %#v", e)
	}
}

func TestFromGRPCWithoutTrailerIsTransport(t *testing.T) {
	if FromGRPC(nil, nil) != nil {
		t.Fatal("nil must stay nil")
	}
	transport := status.Error(codes.Unavailable, "connection refused")
	if got := FromGRPC(transport, metadata.MD{}); got != transport {
		t.Fatalf("want the transport error unchanged, got %v", got)
	}
	garbage := metadata.Pairs(TrailerCode, "x")
	if got := FromGRPC(transport, garbage); got != transport {
		t.Fatalf("garbage trailer must be ignored, got %v", got)
	}
}

// testdata/produce_stream_response.binpb is written by packages/protocol's wire.test.ts
// (TypeScript encoder); decoding it here proves both languages agree on the wire.
func TestDecodesTypeScriptGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/produce_stream_response.binpb")
	if err != nil {
		t.Fatal(err)
	}
	var m streambusv1.ProduceStreamResponse
	if err := proto.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.GetCorrelationId() != 1<<53-1 {
		t.Errorf("correlation id %d", m.GetCorrelationId())
	}
	ps := m.GetResponse().GetPartitions()
	if len(ps) != 2 || m.GetResponse().GetThrottleTimeMs() != 7 {
		t.Fatalf("response %v", m.GetResponse())
	}
	p0, p1 := ps[0], ps[1]
	if p0.GetTopic() != "orders" || p0.GetPartition() != 3 || p0.GetErrorCode() != streambusv1.ErrorCode_ERROR_CODE_NOT_LEADER_OR_FOLLOWER ||
		p0.GetErrorMessage() != "moved" || p0.GetBaseOffset() != -1 || p0.LogAppendTimeMs != nil || p0.GetLogStartOffset() != 42 ||
		p0.GetCurrentLeader().GetLeaderId() != 2 || p0.GetCurrentLeader().GetLeaderEpoch() != 5 {
		t.Errorf("partition 0: %v", p0)
	}
	if p1.GetErrorCode() != streambusv1.ErrorCode_ERROR_CODE_UNKNOWN_SERVER_ERROR || p1.GetBaseOffset() != 1_000_000_000_000 ||
		p1.LogAppendTimeMs == nil || p1.GetLogAppendTimeMs() != 1_700_000_000_000 || p1.GetCurrentLeader() != nil ||
		len(p1.GetRecordErrors()) != 1 || p1.GetRecordErrors()[0].GetMessage() != "bad crc" {
		t.Errorf("partition 1: %v", p1)
	}
	e := FromProto(m.GetError(), nil)
	if e == nil || e.Code != streambusv1.ErrorCode_ERROR_CODE_NOT_ENOUGH_REPLICAS || e.Message != "isr 1 < 2" || !e.Retriable {
		t.Errorf("error: %v", e)
	}
	// Go encodes it to the same bytes (field order and varints agree).
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(&m)
	if err != nil || string(again) != string(raw) {
		t.Errorf("Go re-encoding differs from the TypeScript bytes")
	}
}
