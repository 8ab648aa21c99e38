package wire

import (
	"fmt"
)

// MetaVersion is the version of the gossip metadata layout. A node whose
// metadata carries another version is not treated as an lbd node.
const MetaVersion = 1

// MaxMetaSize is memberlist's limit on node metadata (memberlist.MetaMaxSize).
const MaxMetaSize = 512

// Roles a node can have.
const (
	RoleMaster = "master"
	RoleWorker = "worker"
)

// metaMagic marks lbd metadata so that foreign memberlist nodes, whose
// metadata is arbitrary bytes, are told apart from lbd nodes.
var metaMagic = [3]byte{'l', 'b', 'd'}

// Meta is the metadata that every node gossips about itself.
type Meta struct {
	_struct struct{} `codec:",toarray"`

	Role     string
	Version  string   // lbd build version
	Slots    int      // worker: slots
	Types    []string // worker: task types it runs
	TaskAddr string   // master: address that workers dial for tasks
	HTTPAddr string   // master: API address
}

// EncodeMeta encodes m for memberlist's NodeMeta. It fails when the result
// exceeds limit bytes, which happens with very many task types.
func EncodeMeta(m Meta, limit int) ([]byte, error) {
	body, err := Marshal(&m)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 4+len(body))
	out = append(out, metaMagic[:]...)
	out = append(out, MetaVersion)
	out = append(out, body...)
	if len(out) > limit {
		return nil, fmt.Errorf("node metadata is %d bytes, over memberlist's limit of %d: advertise fewer or shorter task types", len(out), limit)
	}
	return out, nil
}

// DecodeMeta decodes metadata that EncodeMeta made. It fails for metadata of
// foreign memberlist nodes and of other metadata versions.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) < 4 || b[0] != metaMagic[0] || b[1] != metaMagic[1] || b[2] != metaMagic[2] {
		return m, fmt.Errorf("not lbd node metadata")
	}
	if b[3] != MetaVersion {
		return m, fmt.Errorf("lbd node metadata version %d, this node speaks %d", b[3], MetaVersion)
	}
	if err := Unmarshal(b[4:], &m); err != nil {
		return m, fmt.Errorf("invalid lbd node metadata: %w", err)
	}
	return m, nil
}
