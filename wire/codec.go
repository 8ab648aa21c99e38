package wire

import (
	"fmt"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// maxInitLen bounds what the decoder allocates up front for a collection or
// byte string whose length prefix it has not yet verified against the input.
const maxInitLen = 64 << 10

var handle = newHandle()

func newHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.WriteExt = true // str and bin are distinct types on the wire
	h.RawToString = true
	h.MaxInitLen = maxInitLen
	return h
}

// Marshal encodes v as msgpack.
func Marshal(v any) ([]byte, error) {
	var out []byte
	if err := codec.NewEncoderBytes(&out, handle).Encode(v); err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return out, nil
}

// Unmarshal decodes msgpack from b into v. Byte slices in v are copies and do
// not alias b.
func Unmarshal(b []byte, v any) error {
	if err := codec.NewDecoderBytes(b, handle).Decode(v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}
