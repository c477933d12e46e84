package slack

import (
	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/store"
)

// The application's types plug in as they are.
var (
	_ Cases  = (*cases.Service)(nil)
	_ Outbox = (*store.Store)(nil)

	_ Directory   = (*MemoryDirectory)(nil)
	_ Messages    = (*MemoryMessages)(nil)
	_ ReplayCache = (*MemoryReplayCache)(nil)
)
