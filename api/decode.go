package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// taskFields lists the fields of TaskRequest for error messages.
const taskFields = "type, payload, payload_base64, timeout, max_attempts, key, queue, priority, run_at, delay"

// taskDecoder reads tasks from JSON and words its errors for subject, the
// input's name in messages such as "request body".
type taskDecoder struct {
	dec     *json.Decoder
	subject string
}

func newTaskDecoder(r io.Reader, subject string) *taskDecoder {
	dec := json.NewDecoder(&utf8Reader{r: r})
	dec.DisallowUnknownFields()
	return &taskDecoder{dec: dec, subject: subject}
}

// DecodeTask reads exactly one JSON object of a task from r with the checks
// of POST /v1/tasks: unknown fields, wrong types and data after the object
// are errors. subject names the input in error messages, such as "line".
// DecodeTask does not call Spec.
func DecodeTask(r io.Reader, subject string) (TaskRequest, error) {
	return newTaskDecoder(r, subject).task()
}

// task reads an input that is exactly one JSON object of a task.
func (d *taskDecoder) task() (TaskRequest, error) {
	var req TaskRequest
	if err := d.dec.Decode(&req); err != nil {
		return req, d.error(err, "")
	}
	return req, d.expectEnd()
}

// batch reads a JSON array of tasks, or an object {"tasks": [...]}, and
// calls each for every task in order as soon as it is read, so that the
// request body is never buffered whole.
func (d *taskDecoder) batch(each func(i int, req *TaskRequest) error) error {
	tok, err := d.dec.Token()
	if err != nil {
		return d.error(err, "")
	}

	switch tok {
	case json.Delim('['):
		err = d.array(each)
	case json.Delim('{'):
		err = d.batchObject(each)
	default:
		return badRequest("", "%s must be a JSON array of tasks or an object {\"tasks\": [...]}, got %s", d.subject, describeToken(tok))
	}
	if err != nil {
		return err
	}
	return d.expectEnd()
}

// batchObject reads the members of {"tasks": [...]} after its '{'.
func (d *taskDecoder) batchObject(each func(int, *TaskRequest) error) error {
	seen := false
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return d.error(err, "tasks")
		}
		if key, _ := tok.(string); key != "tasks" {
			return badRequest(key, "unknown field %q: a batch object has only the field tasks", key)
		}
		if seen {
			return badRequest("tasks", "tasks: given twice")
		}
		seen = true

		tok, err = d.dec.Token()
		if err != nil {
			return d.error(err, "tasks")
		}
		if tok != json.Delim('[') {
			return badRequest("tasks", "tasks: expected a JSON array of tasks, got %s", describeToken(tok))
		}
		if err := d.array(each); err != nil {
			return err
		}
	}

	if _, err := d.dec.Token(); err != nil { // the closing '}'
		return d.error(err, "tasks")
	}
	if !seen {
		return badRequest("tasks", "tasks: missing")
	}
	return nil
}

// array reads the elements of an array of tasks after its '['.
func (d *taskDecoder) array(each func(int, *TaskRequest) error) error {
	for i := 0; d.dec.More(); i++ {
		var req TaskRequest
		if err := d.dec.Decode(&req); err != nil {
			return d.error(err, fmt.Sprintf("tasks[%d]", i))
		}
		if err := each(i, &req); err != nil {
			return err
		}
	}

	if _, err := d.dec.Token(); err != nil { // the closing ']'
		return d.error(err, "tasks")
	}
	return nil
}

// expectEnd checks that nothing but white space follows the JSON value.
func (d *taskDecoder) expectEnd() error {
	_, err := d.dec.Token()
	if err == io.EOF {
		return nil
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return bodyTooLarge(tooBig.Limit, -1)
	}
	return badRequest("", "%s has data after the JSON value: send exactly one JSON value", d.subject)
}

// error turns an error of json.Decoder into a 400 or 413 response. prefix
// names the value that was being decoded, such as "tasks[3]", or is "" for
// the whole input. io.EOF means an empty input only when prefix is "".
func (d *taskDecoder) error(err error, prefix string) error {
	var syntax *json.SyntaxError
	var wrongType *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return bodyTooLarge(tooBig.Limit, -1)
	case errors.Is(err, errInvalidUTF8):
		return badRequest("payload", "%s is not valid UTF-8 (%v): JSON text must be UTF-8, so send binary payloads base64-encoded as payload_base64", d.subject, err)
	case errors.Is(err, io.EOF) && prefix == "":
		return badRequest("", "%s is empty: expected JSON", d.subject)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "%s is not valid JSON: it ends in the middle of a value", d.subject)
	case errors.As(err, &syntax):
		return badRequest("", "%s is not valid JSON: %v (at byte offset %d)", d.subject, syntax, syntax.Offset)
	case errors.As(err, &wrongType):
		return d.typeError(wrongType, prefix)
	}

	if name, ok := unknownField(err); ok {
		field := joinField(prefix, name)
		return badRequest(field, "%s: unknown field; the fields of a task are %s", field, taskFields)
	}
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("read %s: %v", d.subject, err), cause: err}
}

func (d *taskDecoder) typeError(e *json.UnmarshalTypeError, prefix string) error {
	if e.Field == "" {
		name := prefix
		if name == "" {
			name = d.subject
		}
		return badRequest(prefix, "%s must be a JSON object of a task, got %s", name, e.Value)
	}

	field := joinField(prefix, e.Field)
	msg := fmt.Sprintf("%s: expected %s, got %s", field, typeName(e.Type), e.Value)
	if e.Field == "timeout" {
		msg += ` (a duration such as "30s")`
	}
	return badRequest(field, "%s", msg)
}

// unknownField extracts the field name from the error that
// json.Decoder.DisallowUnknownFields causes. encoding/json has no type for
// that error, so this matches its message.
func unknownField(err error) (string, bool) {
	quoted, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return "", false
	}
	name, err := strconv.Unquote(quoted)
	if err != nil {
		return "", false
	}
	return name, true
}

func joinField(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.Bool:
		return "true or false"
	}
	return t.String()
}

// describeToken names the kind of a JSON token for error messages.
func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(v))
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}
