package cli

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/baram-mqtt/baram/internal/config"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/open"
)

// storeFlags are the flags that choose the store, shared by serve and
// the store commands.
type storeFlags struct {
	dataDir   string
	storeType string
}

// bind declares f's flags on cmd.
func (f *storeFlags) bind(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.dataDir, "data-dir", "", "keep sessions, queues and retained messages in `DIR` (default ./data)")
	fs.StringVar(&f.storeType, "store", "", "store `TYPE`: auto, pebble, bolt or memory (default auto: what DIR holds,\nelse pebble on 64-bit and bolt on 32-bit platforms)")
}

// apply sets the store settings of cfg from the flags that changed
// reports as given.
func (f *storeFlags) apply(cfg *config.Config, changed func(name string) bool) error {
	if changed("data-dir") {
		if f.dataDir == "" {
			return usageError{errors.New("--data-dir: empty; name a directory")}
		}
		cfg.Store.Dir = f.dataDir
	}
	if changed("store") {
		if err := config.CheckStoreType(f.storeType); err != nil {
			return usageError{fmt.Errorf("--store: %w", err)}
		}
		cfg.Store.Type = f.storeType
	}
	return nil
}

// openStore opens the store that c describes. Its error is the store's
// own message, which names the directory and says what to do (as in
// "store ./data: locked by another running baram (file ./data/LOCK):
// stop it or use another --data-dir").
func openStore(c config.Store, logger *slog.Logger) (store.Store, error) {
	return open.Open(c.Type, c.Dir, open.Options{Logger: logger})
}

// describeStore names an open store for logs and reports: its engine and
// directory, as in "pebble:./data".
func describeStore(c config.Store) string {
	if c.Type == config.StoreMemory {
		return "memory (nothing survives a restart)"
	}
	kind := c.Type
	if found, err := open.Detect(c.Dir); err == nil && found != "" {
		kind = found // what auto chose
	}
	return kind + ":" + c.Dir
}

// closeStore closes st after the broker is done with it, logging a
// failure.
func closeStore(st store.Store, logger *slog.Logger) {
	if err := st.Close(); err != nil {
		logger.Error("closing the store failed", "err", err)
	}
}
