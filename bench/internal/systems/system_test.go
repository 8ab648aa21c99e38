package systems

import "testing"

func TestPayloadIndexRoundTrip(t *testing.T) {
	for _, i := range []int{0, 7, 99_999, 1_999_999_999} {
		p := Payload(i)
		if len(p) != PayloadSize {
			t.Errorf("Payload(%d) has %d bytes, expected %d", i, len(p), PayloadSize)
		}
		got, err := PayloadIndex(p)
		if err != nil || got != i {
			t.Errorf("PayloadIndex(Payload(%d)) = %d, %v; expected %d, nil", i, got, err, i)
		}
	}
	if _, err := PayloadIndex([]byte("short")); err == nil {
		t.Error("PayloadIndex of a 5-byte payload returned no error")
	}
}
