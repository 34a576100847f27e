// Command settings-table prints the README's configuration table from the settings table
// (stacks/internal/settings), or with -w writes it into README.md between its markers:
//
//	go run ./stacks/cmd/settings-table -w README.md
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/delayed-push/delayed-push/stacks/internal/settings"
)

func main() {
	write := flag.String("w", "", "write the table into this Markdown file, between its settings-table markers")
	flag.Parse()
	if *write == "" {
		fmt.Print(settings.Markdown())
		return
	}
	if err := writeTable(*write); err != nil {
		fmt.Fprintln(os.Stderr, "settings-table:", err)
		os.Exit(1)
	}
}

func writeTable(path string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	updated, err := settings.WithTable(string(old))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(updated), 0o644)
}
