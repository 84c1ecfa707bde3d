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

	streambusv1 "github.com/streambus/streambus/packages/sdk-go/gen/streambus/v1"
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
