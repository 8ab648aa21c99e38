package store

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Record encodings, the first byte of every encoded record. A new layout
// takes a new value here, and decodeRecord keeps reading the older ones.
const (
	// recordEncoding is the layout without queue and priority. It is still
	// written for records with neither, so older lbd versions read them.
	recordEncoding = 1
	// recordEncodingPlaced adds the queue and the priority.
	recordEncodingPlaced = 2
)

// The value of a task in the tasks bucket is, after the encoding byte:
//
//	encoding 2 only: varint Priority, uvarint length of Queue
//	uvarint Seq, Attempt, Failures, MaxAttempts
//	varint  Timeout, Created, Started, Finished, RunAt
//	uvarint lengths of Type, Key, Status, Worker, Error, Payload, Output
//	the five strings back to back, then Payload and Output back to back
//	encoding 2 only: Queue
//
// NOTE: lbd versions that know only encoding 1 refuse to load a store that
// holds encoding 2 records, with an "unknown record encoding" error.
//
// The key is the task id, so the value does not repeat it. Grouping the
// strings and the byte slices lets decodeRecord copy each group with one
// allocation. Benchmarks in this package compare this encoding with msgpack.

// stringFields and byteFields count the variable-length fields.
const (
	stringFields = 5
	byteFields   = 2
)

// op is one encoded change of a task, or of a queue state when queue is
// set. A nil value deletes the key.
type op struct {
	key, value []byte
	queue      bool
}

// encodeBatch encodes every change of a batch that validateBatch accepted
// into one buffer. The ops slice into that buffer, so bbolt can keep them
// until the transaction ends. It also returns the buffer size.
func encodeBatch(b Batch) ([]op, int) {
	size := 0
	for _, r := range b.Put {
		size += len(r.ID) + encodedSize(r)
	}
	for _, id := range b.Delete {
		size += len(id)
	}
	for _, q := range b.Queues {
		size += len(q.Name) + len(appendQueueState(nil, q))
	}

	buf := make([]byte, 0, size)
	ops := make([]op, 0, len(b.Put)+len(b.Delete)+len(b.Queues))
	for _, r := range b.Put {
		start := len(buf)
		buf = append(buf, r.ID...)
		keyEnd := len(buf)
		buf = appendRecord(buf, r)
		ops = append(ops, op{key: buf[start:keyEnd:keyEnd], value: buf[keyEnd:len(buf):len(buf)]})
	}
	for _, id := range b.Delete {
		start := len(buf)
		buf = append(buf, id...)
		ops = append(ops, op{key: buf[start:len(buf):len(buf)]})
	}
	for _, q := range b.Queues {
		start := len(buf)
		buf = append(buf, q.Name...)
		keyEnd := len(buf)
		buf = appendQueueState(buf, q)
		o := op{key: buf[start:keyEnd:keyEnd], queue: true}
		if len(buf) > keyEnd {
			o.value = buf[keyEnd:len(buf):len(buf)]
		}
		ops = append(ops, o)
	}
	return ops, size
}

// placed reports whether r needs encoding 2.
func placed(r *Record) bool {
	return r.Queue != "" || r.Priority != 0
}

func encodedSize(r *Record) int {
	n := 1
	if placed(r) {
		n += varintSize(r.Priority) + uvarintSize(uint64(len(r.Queue))) + len(r.Queue)
	}
	for _, v := range unsignedFields(r) {
		n += uvarintSize(v)
	}
	for _, v := range signedFields(r) {
		n += varintSize(v)
	}
	for _, l := range fieldLengths(r) {
		n += uvarintSize(uint64(l)) + l
	}
	return n
}

func unsignedFields(r *Record) [4]uint64 {
	return [...]uint64{r.Seq, uint64(r.Attempt), uint64(r.Failures), uint64(r.MaxAttempts)}
}

func signedFields(r *Record) [5]int64 {
	return [...]int64{r.Timeout, r.Created, r.Started, r.Finished, r.RunAt}
}

func fieldLengths(r *Record) [stringFields + byteFields]int {
	return [...]int{
		len(r.Type), len(r.Key), len(r.Status), len(r.Worker), len(r.Error),
		len(r.Payload), len(r.Output),
	}
}

func appendRecord(buf []byte, r *Record) []byte {
	if placed(r) {
		buf = append(buf, recordEncodingPlaced)
		buf = binary.AppendVarint(buf, r.Priority)
		buf = binary.AppendUvarint(buf, uint64(len(r.Queue)))
	} else {
		buf = append(buf, recordEncoding)
	}
	for _, v := range unsignedFields(r) {
		buf = binary.AppendUvarint(buf, v)
	}
	for _, v := range signedFields(r) {
		buf = binary.AppendVarint(buf, v)
	}
	for _, l := range fieldLengths(r) {
		buf = binary.AppendUvarint(buf, uint64(l))
	}

	for _, s := range [...]string{r.Type, r.Key, r.Status, r.Worker, r.Error} {
		buf = append(buf, s...)
	}
	buf = append(buf, r.Payload...)
	buf = append(buf, r.Output...)
	if placed(r) {
		buf = append(buf, r.Queue...)
	}
	return buf
}

func uvarintSize(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func varintSize(v int64) int {
	// binary.AppendVarint uses the zig-zag mapping below.
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintSize(u)
}

// decodeRecord decodes the value that appendRecord wrote for the task id in
// key. It copies what it keeps, so key and value may point into the memory
// map of bbolt.
func decodeRecord(key, value []byte) (*Record, error) {
	d := decoder{buf: value}
	r := &Record{ID: string(key)}
	queueLen := 0
	enc := d.byte()
	switch {
	case d.err != nil:
		return nil, d.err
	case enc == recordEncodingPlaced:
		r.Priority = d.varint()
		queueLen = d.length()
	case enc != recordEncoding:
		return nil, fmt.Errorf("unknown record encoding %d: this lbd reads encodings %d and %d",
			enc, recordEncoding, recordEncodingPlaced)
	}
	r.Seq = d.uvarint()
	r.Attempt = d.uint32()
	r.Failures = d.uint32()
	r.MaxAttempts = d.uint32()
	r.Timeout = d.varint()
	r.Created = d.varint()
	r.Started = d.varint()
	r.Finished = d.varint()
	r.RunAt = d.varint()

	var lengths [stringFields + byteFields]int
	for i := range lengths {
		lengths[i] = d.length()
	}
	if d.err != nil {
		return nil, d.err
	}

	if err := d.fields(r, lengths, queueLen); err != nil {
		return nil, err
	}
	return r, nil
}

// decoder reads the fixed part of an encoded record. After the first error
// every read returns zero and err keeps that error.
type decoder struct {
	buf []byte
	off int
	err error
}

func (d *decoder) fail(problem string) {
	if d.err == nil {
		d.err = fmt.Errorf("invalid record: %s at byte %d of %d", problem, d.off, len(d.buf))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.buf) {
		d.fail("truncated encoding byte")
		return 0
	}
	d.off++
	return d.buf[d.off-1]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		d.fail("truncated or overlong varint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf[d.off:])
	if n <= 0 {
		d.fail("truncated or overlong varint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) uint32() uint32 {
	v := d.uvarint()
	if v > math.MaxUint32 {
		d.fail(fmt.Sprintf("counter %d over the 32-bit range", v))
		return 0
	}
	return uint32(v)
}

// length reads a field length and checks it against the bytes left, which
// also keeps the sum of all lengths from overflowing.
func (d *decoder) length() int {
	v := d.uvarint()
	if v > uint64(len(d.buf)-d.off) {
		d.fail(fmt.Sprintf("field length %d past the end", v))
		return 0
	}
	return int(v)
}

// fields copies the strings and byte slices that follow the lengths into r,
// and the queue name of queueLen bytes at the end.
func (d *decoder) fields(r *Record, lengths [stringFields + byteFields]int, queueLen int) error {
	stringBytes := 0
	for _, l := range lengths[:stringFields] {
		stringBytes += l
	}
	payloadLen, outputLen := lengths[stringFields], lengths[stringFields+1]
	rest := d.buf[d.off:]
	if want := stringBytes + payloadLen + outputLen + queueLen; want != len(rest) {
		return fmt.Errorf("invalid record: fields take %d bytes but %d bytes follow the header", want, len(rest))
	}
	if queueLen > 0 {
		r.Queue = string(rest[len(rest)-queueLen:])
		rest = rest[:len(rest)-queueLen]
	}

	all := string(rest[:stringBytes])
	var strs [stringFields]string
	for i, l := range lengths[:stringFields] {
		strs[i], all = all[:l], all[l:]
	}
	r.Type, r.Key, r.Status, r.Worker, r.Error = strs[0], strs[1], strs[2], strs[3], strs[4]

	if payloadLen+outputLen == 0 {
		return nil
	}
	bin := append([]byte(nil), rest[stringBytes:]...)
	if payloadLen > 0 {
		r.Payload = bin[:payloadLen:payloadLen]
	}
	if outputLen > 0 {
		r.Output = bin[payloadLen:]
	}
	return nil
}
