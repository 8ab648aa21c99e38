package api

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzDecodeRequest feeds arbitrary bodies to the decoders of POST
// /v1/tasks and POST /v1/tasks/batch. Nothing may panic, and every error
// must be a 400 or 413 with a message.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"type": "echo", "payload": "hi"}`))
	f.Add([]byte(`{"type": "echo", "payload_base64": "aGk=", "timeout": "30s", "max_attempts": 3, "key": "k1"}`))
	f.Add([]byte(`[{"type": "echo"}, {"type": "sleep", "payload": "1s"}]`))
	f.Add([]byte(`{"tasks": [{"type": "echo"}]}`))
	f.Add([]byte(`{"type": 1, "extra": true}`))
	f.Add([]byte("{\"type\": \"\xff\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := DecodeTask(bytes.NewReader(data), "body"); err != nil {
			checkDecodeError(t, err)
		}
		count := 0
		err := newTaskDecoder(bytes.NewReader(data), "body").batch(func(i int, req *TaskRequest) error {
			if i != count {
				t.Fatalf("batch called each with index %d, want %d", i, count)
			}
			count++
			return nil
		})
		if err != nil {
			checkDecodeError(t, err)
		}
	})
}

func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	status, body := errorResponse(err)
	if status != 400 && status != 413 {
		t.Fatalf("decode error has status %d, want 400 or 413: %v", status, err)
	}
	if strings.TrimSpace(body.Error) == "" {
		t.Fatalf("decode error has an empty message: %v", err)
	}
}
