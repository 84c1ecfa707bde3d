// Package errors holds StreamBus' domain error codes for Go: Kafka's names, whether each
// is retriable, and an error type carrying the code and the leader hint. The table is the
// same as packages/protocol/src/errors.ts; tests on both sides check them against the
// ErrorCode enum of proto/streambus/v1/common.proto.
//
// Import it under another name to keep the standard library's errors package at hand:
//
//	import sberrors "github.com/streambus/streambus/packages/sdk-go/errors"
package errors

import (
	"fmt"
	"strconv"
	"strings"

	streambusv1 "github.com/streambus/streambus/packages/sdk-go/gen/streambus/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Trailer keys with which a server fails a whole call with a domain error (see
// proto/README.md). Pass grpc.Trailer(&md) on the call to receive them.
const (
	TrailerCode        = "streambus-error-code"
	TrailerRetriable   = "streambus-retriable"
	TrailerLeaderID    = "streambus-leader-id"
	TrailerLeaderEpoch = "streambus-leader-epoch"
)

// Code is the domain error code carried on the wire (Kafka's error code numbers).
type Code = streambusv1.ErrorCode

// CodeInfo is one row of the table.
type CodeInfo struct {
	Code      Code
	Name      string
	Retriable bool
}

// Codes lists every code this build knows, with Kafka's name and whether a client may
// retry after it. Keep one entry per line: packages/protocol's tests parse this table.
var Codes = []CodeInfo{
	{Code: streambusv1.ErrorCode_ERROR_CODE_NONE, Name: "NONE", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_UNKNOWN_SERVER_ERROR, Name: "UNKNOWN_SERVER_ERROR", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_OFFSET_OUT_OF_RANGE, Name: "OFFSET_OUT_OF_RANGE", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_CORRUPT_MESSAGE, Name: "CORRUPT_MESSAGE", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_UNKNOWN_TOPIC_OR_PARTITION, Name: "UNKNOWN_TOPIC_OR_PARTITION", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_LEADER_NOT_AVAILABLE, Name: "LEADER_NOT_AVAILABLE", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_NOT_LEADER_OR_FOLLOWER, Name: "NOT_LEADER_OR_FOLLOWER", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_REQUEST_TIMED_OUT, Name: "REQUEST_TIMED_OUT", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_BROKER_NOT_AVAILABLE, Name: "BROKER_NOT_AVAILABLE", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_REPLICA_NOT_AVAILABLE, Name: "REPLICA_NOT_AVAILABLE", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_MESSAGE_TOO_LARGE, Name: "MESSAGE_TOO_LARGE", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_NETWORK_EXCEPTION, Name: "NETWORK_EXCEPTION", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_INVALID_TOPIC_EXCEPTION, Name: "INVALID_TOPIC_EXCEPTION", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_RECORD_LIST_TOO_LARGE, Name: "RECORD_LIST_TOO_LARGE", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_NOT_ENOUGH_REPLICAS, Name: "NOT_ENOUGH_REPLICAS", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_NOT_ENOUGH_REPLICAS_AFTER_APPEND, Name: "NOT_ENOUGH_REPLICAS_AFTER_APPEND", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_INVALID_REQUIRED_ACKS, Name: "INVALID_REQUIRED_ACKS", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_UNKNOWN_MEMBER_ID, Name: "UNKNOWN_MEMBER_ID", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_INVALID_TIMESTAMP, Name: "INVALID_TIMESTAMP", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_UNSUPPORTED_VERSION, Name: "UNSUPPORTED_VERSION", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_TOPIC_ALREADY_EXISTS, Name: "TOPIC_ALREADY_EXISTS", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_INVALID_PARTITIONS, Name: "INVALID_PARTITIONS", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_INVALID_REPLICATION_FACTOR, Name: "INVALID_REPLICATION_FACTOR", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_INVALID_REPLICA_ASSIGNMENT, Name: "INVALID_REPLICA_ASSIGNMENT", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, Name: "INVALID_CONFIG", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_NOT_CONTROLLER, Name: "NOT_CONTROLLER", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, Name: "INVALID_REQUEST", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_POLICY_VIOLATION, Name: "POLICY_VIOLATION", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_OUT_OF_ORDER_SEQUENCE_NUMBER, Name: "OUT_OF_ORDER_SEQUENCE_NUMBER", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_DUPLICATE_SEQUENCE_NUMBER, Name: "DUPLICATE_SEQUENCE_NUMBER", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_INVALID_PRODUCER_EPOCH, Name: "INVALID_PRODUCER_EPOCH", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_KAFKA_STORAGE_ERROR, Name: "KAFKA_STORAGE_ERROR", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_UNKNOWN_PRODUCER_ID, Name: "UNKNOWN_PRODUCER_ID", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_REASSIGNMENT_IN_PROGRESS, Name: "REASSIGNMENT_IN_PROGRESS", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_GROUP_ID_NOT_FOUND, Name: "GROUP_ID_NOT_FOUND", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_FENCED_LEADER_EPOCH, Name: "FENCED_LEADER_EPOCH", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_UNKNOWN_LEADER_EPOCH, Name: "UNKNOWN_LEADER_EPOCH", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_UNSUPPORTED_COMPRESSION_TYPE, Name: "UNSUPPORTED_COMPRESSION_TYPE", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_STALE_BROKER_EPOCH, Name: "STALE_BROKER_EPOCH", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_STALE_CONTROLLER_EPOCH, Name: "STALE_CONTROLLER_EPOCH", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_INVALID_UPDATE_VERSION, Name: "INVALID_UPDATE_VERSION", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_INELIGIBLE_REPLICA, Name: "INELIGIBLE_REPLICA", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_OFFSET_NOT_AVAILABLE, Name: "OFFSET_NOT_AVAILABLE", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_PREFERRED_LEADER_NOT_AVAILABLE, Name: "PREFERRED_LEADER_NOT_AVAILABLE", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_ELIGIBLE_LEADERS_NOT_AVAILABLE, Name: "ELIGIBLE_LEADERS_NOT_AVAILABLE", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_ELECTION_NOT_NEEDED, Name: "ELECTION_NOT_NEEDED", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_NO_REASSIGNMENT_IN_PROGRESS, Name: "NO_REASSIGNMENT_IN_PROGRESS", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_INVALID_RECORD, Name: "INVALID_RECORD", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_THROTTLING_QUOTA_EXCEEDED, Name: "THROTTLING_QUOTA_EXCEEDED", Retriable: true},
	{Code: streambusv1.ErrorCode_ERROR_CODE_PRODUCER_FENCED, Name: "PRODUCER_FENCED", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_RESOURCE_NOT_FOUND, Name: "RESOURCE_NOT_FOUND", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_DUPLICATE_BROKER_REGISTRATION, Name: "DUPLICATE_BROKER_REGISTRATION", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_BROKER_ID_NOT_REGISTERED, Name: "BROKER_ID_NOT_REGISTERED", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_INCONSISTENT_CLUSTER_ID, Name: "INCONSISTENT_CLUSTER_ID", Retriable: false},
	{Code: streambusv1.ErrorCode_ERROR_CODE_FENCED_MEMBER_EPOCH, Name: "FENCED_MEMBER_EPOCH", Retriable: false},
}

var byCode = func() map[Code]CodeInfo {
	m := make(map[Code]CodeInfo, len(Codes))
	for _, info := range Codes {
		m[info.Code] = info
	}
	return m
}()

// IsRetriable reports whether an operation that failed with code may succeed if retried.
// A code from a newer server is not retriable.
func IsRetriable(code Code) bool {
	return byCode[code].Retriable
}

// Name returns Kafka's name of code ("NOT_LEADER_OR_FOLLOWER"), or a stable placeholder.
func Name(code Code) string {
	if info, ok := byCode[code]; ok {
		return info.Name
	}
	return "UNKNOWN_ERROR_CODE_" + strconv.Itoa(int(code))
}

// Error is a domain error: the broker answered, and the answer is a Code.
type Error struct {
	Code      Code
	Message   string
	Retriable bool
	// LeaderID and LeaderEpoch name the current leader with NOT_LEADER_OR_FOLLOWER,
	// FENCED_LEADER_EPOCH or NOT_CONTROLLER, when the broker knows it.
	LeaderID    *int32
	LeaderEpoch *int32
	Cause       error
}

// New returns an Error for code with the table's retriable flag.
func New(code Code, message string) *Error {
	return &Error{Code: code, Message: message, Retriable: IsRetriable(code)}
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", Name(e.Code), e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// Is matches another *Error with the same code, so errors.Is(err, New(code, "")) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// FromProto converts a response's Error (nil or NONE means success) and an optional
// leader hint into an *Error, or nil.
func FromProto(pe *streambusv1.Error, hint *streambusv1.LeaderHint) *Error {
	if pe == nil || pe.GetCode() == streambusv1.ErrorCode_ERROR_CODE_NONE {
		return nil
	}
	retriable := pe.GetRetriable()
	if info, ok := byCode[pe.GetCode()]; ok {
		retriable = info.Retriable
	}
	e := &Error{Code: pe.GetCode(), Message: pe.GetMessage(), Retriable: retriable}
	if hint != nil {
		id, epoch := hint.GetLeaderId(), hint.GetLeaderEpoch()
		e.LeaderID, e.LeaderEpoch = &id, &epoch
	}
	return e
}

// ToProto converts e into a response's Error.
func (e *Error) ToProto() *streambusv1.Error {
	return &streambusv1.Error{Code: e.Code, Message: e.Message, Retriable: e.Retriable}
}

// FromGRPC turns a failed call into an *Error when the server answered a domain error
// (its code is in trailer), or returns err unchanged (a transport failure: use
// google.golang.org/grpc/status to inspect it). nil stays nil.
func FromGRPC(err error, trailer metadata.MD) error {
	if err == nil {
		return nil
	}
	code, ok := trailerInt(trailer, TrailerCode)
	if !ok {
		return err
	}
	e := &Error{Code: Code(code), Message: status.Convert(err).Message(), Cause: err}
	e.Message = strings.TrimPrefix(e.Message, Name(e.Code)+": ")
	if values := trailer.Get(TrailerRetriable); len(values) > 0 {
		e.Retriable = values[0] == "1"
	} else {
		e.Retriable = IsRetriable(e.Code)
	}
	if id, ok := trailerInt(trailer, TrailerLeaderID); ok {
		e.LeaderID = &id
	}
	if epoch, ok := trailerInt(trailer, TrailerLeaderEpoch); ok {
		e.LeaderEpoch = &epoch
	}
	return e
}

// Trailer returns the trailer and gRPC status with which a server fails a call with e.
func (e *Error) Trailer() (metadata.MD, *status.Status) {
	md := metadata.Pairs(TrailerCode, strconv.Itoa(int(e.Code)))
	if e.Retriable {
		md.Set(TrailerRetriable, "1")
	} else {
		md.Set(TrailerRetriable, "0")
	}
	if e.LeaderID != nil {
		md.Set(TrailerLeaderID, strconv.Itoa(int(*e.LeaderID)))
	}
	if e.LeaderEpoch != nil {
		md.Set(TrailerLeaderEpoch, strconv.Itoa(int(*e.LeaderEpoch)))
	}
	return md, status.New(GRPCCode(e.Code), e.Error())
}

// grpcCodes is packages/protocol's grpcStatusOf table: the status a domain code travels
// under, for clients that read only statuses.
var grpcCodes = map[Code]codes.Code{
	streambusv1.ErrorCode_ERROR_CODE_INVALID_REQUEST:              codes.InvalidArgument,
	streambusv1.ErrorCode_ERROR_CODE_INVALID_TOPIC_EXCEPTION:      codes.InvalidArgument,
	streambusv1.ErrorCode_ERROR_CODE_INVALID_PARTITIONS:           codes.InvalidArgument,
	streambusv1.ErrorCode_ERROR_CODE_INVALID_REPLICATION_FACTOR:   codes.InvalidArgument,
	streambusv1.ErrorCode_ERROR_CODE_INVALID_REPLICA_ASSIGNMENT:   codes.InvalidArgument,
	streambusv1.ErrorCode_ERROR_CODE_INVALID_CONFIG:               codes.InvalidArgument,
	streambusv1.ErrorCode_ERROR_CODE_INVALID_REQUIRED_ACKS:        codes.InvalidArgument,
	streambusv1.ErrorCode_ERROR_CODE_INVALID_RECORD:               codes.InvalidArgument,
	streambusv1.ErrorCode_ERROR_CODE_INVALID_TIMESTAMP:            codes.InvalidArgument,
	streambusv1.ErrorCode_ERROR_CODE_CORRUPT_MESSAGE:              codes.InvalidArgument,
	streambusv1.ErrorCode_ERROR_CODE_MESSAGE_TOO_LARGE:            codes.InvalidArgument,
	streambusv1.ErrorCode_ERROR_CODE_RECORD_LIST_TOO_LARGE:        codes.InvalidArgument,
	streambusv1.ErrorCode_ERROR_CODE_UNKNOWN_TOPIC_OR_PARTITION:   codes.NotFound,
	streambusv1.ErrorCode_ERROR_CODE_GROUP_ID_NOT_FOUND:           codes.NotFound,
	streambusv1.ErrorCode_ERROR_CODE_RESOURCE_NOT_FOUND:           codes.NotFound,
	streambusv1.ErrorCode_ERROR_CODE_TOPIC_ALREADY_EXISTS:         codes.AlreadyExists,
	streambusv1.ErrorCode_ERROR_CODE_THROTTLING_QUOTA_EXCEEDED:    codes.ResourceExhausted,
	streambusv1.ErrorCode_ERROR_CODE_REQUEST_TIMED_OUT:            codes.DeadlineExceeded,
	streambusv1.ErrorCode_ERROR_CODE_UNSUPPORTED_VERSION:          codes.Unimplemented,
	streambusv1.ErrorCode_ERROR_CODE_UNSUPPORTED_COMPRESSION_TYPE: codes.Unimplemented,
	streambusv1.ErrorCode_ERROR_CODE_UNKNOWN_SERVER_ERROR:         codes.Internal,
	streambusv1.ErrorCode_ERROR_CODE_NONE:                         codes.Internal,
}

// GRPCCode is the gRPC status code a domain code travels under: the table above, else
// Unavailable when retriable and FailedPrecondition when not.
func GRPCCode(code Code) codes.Code {
	if c, ok := grpcCodes[code]; ok {
		return c
	}
	if IsRetriable(code) {
		return codes.Unavailable
	}
	return codes.FailedPrecondition
}

func trailerInt(md metadata.MD, key string) (int32, bool) {
	values := md.Get(key)
	if len(values) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(values[0], 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}
