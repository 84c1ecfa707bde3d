package record

import (
	"errors"
	"fmt"
)

// ErrorCode is the stable name of a failure family; the same strings are used by the
// TypeScript package (@streambus/record) and on the wire.
type ErrorCode string

const (
	CodeTruncated              ErrorCode = "TRUNCATED"
	CodeInvalidMagic           ErrorCode = "INVALID_MAGIC"
	CodeCorruptCRC             ErrorCode = "CORRUPT_CRC"
	CodeInvalidLength          ErrorCode = "INVALID_LENGTH"
	CodeVarintOverflow         ErrorCode = "VARINT_OVERFLOW"
	CodeRecordCountMismatch    ErrorCode = "RECORD_COUNT_MISMATCH"
	CodeDecompressedTooLarge   ErrorCode = "DECOMPRESSED_TOO_LARGE"
	CodeUnsupportedCompression ErrorCode = "UNSUPPORTED_COMPRESSION"
	CodeCorruptCompressedData  ErrorCode = "CORRUPT_COMPRESSED_DATA"
	CodeInvalidRecord          ErrorCode = "INVALID_RECORD"
	CodeUnsafeInteger          ErrorCode = "UNSAFE_INTEGER"
)

// Error is the one error type of this package. Every failure to parse, validate, decode or
// build a batch is an *Error; nothing in this package panics on bad input.
type Error struct {
	Code    ErrorCode
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("record: %s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("record: %s: %s", e.Code, e.Message)
}

// Unwrap exposes the underlying codec or I/O error, if any.
func (e *Error) Unwrap() error { return e.Cause }

// Retriable is always false: bytes that fail to decode fail the same way on every attempt.
func (e *Error) Retriable() bool { return false }

// Is matches another *Error with the same Code, so errors.Is(err, &Error{Code: CodeCorruptCRC}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// CodeOf returns the ErrorCode of err if it is (or wraps) an *Error.
func CodeOf(err error) (ErrorCode, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return "", false
}

func newError(code ErrorCode, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Cause: cause}
}
