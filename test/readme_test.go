package test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The pages a reader follows: every command they show must run as shown. The checks read the
// pages, the Makefile, the end-to-end tests and pushctl's own --help, never a package's
// internals, and need neither network nor emulator.

// page is one Markdown file, split into its prose and its fenced code blocks.
type page struct {
	path   string // relative to the repository root
	prose  string // the text outside code blocks (code blocks blanked)
	blocks []codeBlock
}

type codeBlock struct {
	lang    string
	text    string
	excerpt string // the path of a preceding <!-- excerpt: PATH --> comment
}

var fence = regexp.MustCompile("(?ms)^(<!-- excerpt: (\\S+) -->\n)?```([a-z]*)\n(.*?)^```\n")

func readPages(t *testing.T) []page {
	t.Helper()
	paths := []string{"README.md", "local/README.md"}
	docs, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	for _, d := range docs {
		paths = append(paths, strings.TrimPrefix(d, "../"))
	}
	var pages []page
	for _, p := range paths {
		b, err := os.ReadFile(filepath.Join("..", p))
		require.NoError(t, err)
		pg := page{path: p}
		pg.prose = fence.ReplaceAllStringFunc(string(b), func(m string) string {
			s := fence.FindStringSubmatch(m)
			pg.blocks = append(pg.blocks, codeBlock{lang: s[3], text: s[4], excerpt: s[2]})
			return "\n"
		})
		pages = append(pages, pg)
	}
	require.GreaterOrEqual(t, len(pages), 7, "README.md, local/README.md and the docs pages")
	return pages
}

// commandLines are the shell lines a page shows: every line of its sh blocks (comments cut) and
// every inline code span of its prose.
func (p page) commandLines() []string {
	var lines []string
	for _, b := range p.blocks {
		if b.lang != "sh" && b.lang != "" {
			continue
		}
		for _, l := range strings.Split(b.text, "\n") {
			if i := strings.Index(l, " #"); i >= 0 {
				l = l[:i]
			}
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(p.prose, -1) {
		lines = append(lines, strings.Join(strings.Fields(m[1]), " "))
	}
	return lines
}

// anchors are the ids GitHub gives a Markdown file's headings.
func anchors(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	text := fence.ReplaceAllString(string(b), "\n")
	seen := map[string]int{}
	var ids []string
	for _, m := range regexp.MustCompile(`(?m)^#{1,6} +(.+?) *$`).FindAllStringSubmatch(text, -1) {
		id := strings.ReplaceAll(regexp.MustCompile(`[^\p{L}\p{N} _-]`).ReplaceAllString(strings.ToLower(m[1]), ""), " ", "-")
		if n := seen[id]; n > 0 {
			ids = append(ids, fmt.Sprintf("%s-%d", id, n))
		} else {
			ids = append(ids, id)
		}
		seen[id]++
	}
	return ids
}

// localLinks are a page's relative link targets, resolved from the repository root ("" for the
// page itself), each with its #anchor ("" for none).
func (p page) localLinks() (links [][2]string) {
	for _, m := range regexp.MustCompile(`\]\(([^)\s]+)\)`).FindAllStringSubmatch(p.prose, -1) {
		target := m[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
			continue
		}
		file, anchor, _ := strings.Cut(target, "#")
		if file != "" {
			file = filepath.Clean(filepath.Join(filepath.Dir(p.path), file))
		} else {
			file = p.path
		}
		links = append(links, [2]string{file, anchor})
	}
	return links
}

func TestReadmeLinksResolve(t *testing.T) {
	pages := readPages(t)
	count := 0
	for _, p := range pages {
		for _, l := range p.localLinks() {
			count++
			file, anchor := l[0], l[1]
			_, err := os.Stat(filepath.Join("..", file))
			if !assert.NoError(t, err, "%s links to %s, which does not exist", p.path, file) || anchor == "" {
				continue
			}
			require.True(t, strings.HasSuffix(file, ".md"), "%s links to an anchor of %s, not a Markdown page", p.path, file)
			assert.Contains(t, anchors(t, filepath.Join("..", file)), anchor, "%s links to %s#%s: no such heading", p.path, file, anchor)
		}
	}
	assert.Greater(t, count, 50, "the pages link each other, the examples and the contracts")
}

func TestReadmeMakeTargetsExist(t *testing.T) {
	makefile, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	var targets []string
	for _, m := range regexp.MustCompile(`(?m)^([a-zA-Z0-9_.-]+):`).FindAllStringSubmatch(string(makefile), -1) {
		targets = append(targets, m[1])
	}
	shown := map[string]bool{}
	for _, p := range readPages(t) {
		for _, l := range p.commandLines() {
			if m := regexp.MustCompile(`^make ([a-z][a-z0-9-]*)`).FindStringSubmatch(l); m != nil {
				shown[m[1]] = true
				assert.Contains(t, targets, m[1], "%s shows `make %s`, which the Makefile does not have", p.path, m[1])
			}
		}
	}
	for _, target := range []string{"local", "test", "deploy", "load", "e2e"} {
		assert.True(t, shown[target], "no page shows make %s", target)
	}
}

// Every example a page links is run by the end-to-end tests, and every example is linked.
func TestReadmeExamplesAreLinkedAndRun(t *testing.T) {
	var e2e []byte
	tests, err := filepath.Glob("../local/e2e/*_test.go")
	require.NoError(t, err)
	for _, f := range tests {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		e2e = append(e2e, b...)
	}
	linked := map[string]bool{}
	for _, p := range readPages(t) {
		for _, l := range p.localLinks() {
			if !strings.HasPrefix(l[0], "examples/") {
				continue
			}
			example := l[0]
			if filepath.Ext(example) == ".go" {
				example = filepath.Dir(example) // a Go example runs as its package
			}
			linked[example] = true
			assert.True(t, bytes.Contains(e2e, []byte(`"`+example+`"`)) || bytes.Contains(e2e, []byte(`"./`+example+`"`)),
				"%s links %s, which no end-to-end test in local/e2e runs", p.path, l[0])
		}
	}
	entries, err := os.ReadDir("../examples")
	require.NoError(t, err)
	for _, e := range entries {
		assert.True(t, linked["examples/"+e.Name()], "examples/%s is linked from no page", e.Name())
	}
}

// pushctlHelp builds pushctl once and answers what `pushctl COMMAND -h` prints.
func pushctlHelp(t *testing.T) func(command string) (string, error) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pushctl")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pushctl")
	build.Dir = ".."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	cache := map[string]string{}
	return func(command string) (string, error) {
		if h, ok := cache[command]; ok {
			return h, nil
		}
		out, err := exec.Command(bin, command, "-h").CombinedOutput()
		if err != nil {
			return string(out), err
		}
		cache[command] = string(out)
		return string(out), nil
	}
}

// Every `pushctl COMMAND [SUBCOMMAND] --flag` a page shows names a command pushctl has, and
// flags that command takes, as its --help says.
func TestReadmePushctlCommandsExist(t *testing.T) {
	help := pushctlHelp(t)
	invocation := regexp.MustCompile(`(?:^|[\s(;])pushctl ([a-z][a-z-]*)((?: [a-z|]+)?)(.*)`)
	flagName := regexp.MustCompile(`(?:^|\s)--([a-z][a-z0-9-]*)`)
	shown := 0
	for _, p := range readPages(t) {
		for _, l := range p.commandLines() {
			m := invocation.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			shown++
			command, sub, rest := m[1], strings.TrimSpace(m[2]), m[3]
			h, err := help(command)
			if !assert.NoError(t, err, "%s shows `pushctl %s`, which pushctl refuses: %s", p.path, command, h) {
				continue
			}
			require.Contains(t, h, "pushctl "+command, "%s: pushctl %s -h", p.path, command)
			usage, _, _ := strings.Cut(h, "\nFlags:")
			if sub != "" && command == "devices" {
				for _, s := range strings.Split(sub, "|") {
					assert.Regexp(t, `\b`+s+`\b`, usage, "%s shows `pushctl devices %s`, which its usage does not name", p.path, s)
				}
			} else {
				rest = m[2] + rest // a plain argument, such as a key
			}
			var flags []string
			for _, f := range regexp.MustCompile(`(?m)^\s+--?([a-z][a-z0-9-]*)`).FindAllStringSubmatch(h, -1) {
				flags = append(flags, f[1])
			}
			for _, f := range flagName.FindAllStringSubmatch(rest, -1) {
				if f[1] != "help" {
					assert.True(t, slices.Contains(flags, f[1]), "%s shows `pushctl %s --%s`, a flag it does not take", p.path, command, f[1])
				}
			}
		}
	}
	assert.Greater(t, shown, 10, "the pages show pushctl's commands")
}

// The README's Go code is an excerpt of a Go file that compiles: each go block is marked
// <!-- excerpt: PATH --> and is a run of that file's lines (indentation removed).
func TestReadmeGoSnippetIsCompiledCode(t *testing.T) {
	var readme page
	for _, p := range readPages(t) {
		if p.path == "README.md" {
			readme = p
		}
	}
	var packages []string
	for _, b := range readme.blocks {
		if b.lang != "go" {
			continue
		}
		require.NotEmpty(t, b.excerpt, "a go block of the README without <!-- excerpt: PATH -->:\n%s", b.text)
		src, err := os.ReadFile(filepath.Join("..", b.excerpt))
		require.NoError(t, err)
		assert.True(t, isExcerpt(strings.Split(string(src), "\n"), strings.Split(strings.TrimSuffix(b.text, "\n"), "\n")),
			"the README's go block is not an excerpt of %s:\n%s", b.excerpt, b.text)
		packages = append(packages, "./"+filepath.Dir(b.excerpt))
	}
	require.NotEmpty(t, packages, "the README shows the smallest use from Go")
	build := exec.Command("go", append([]string{"build", "-o", t.TempDir()}, packages...)...)
	build.Dir = ".."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// Every page's code marked <!-- excerpt: PATH --> is a run of that file's lines, so a page
// cannot drift from the code it quotes (the README's is also built, above).
func TestPagesQuoteTheirExcerptsAsTheyAre(t *testing.T) {
	checked := 0
	for _, p := range readPages(t) {
		for _, b := range p.blocks {
			if b.excerpt == "" {
				continue
			}
			src, err := os.ReadFile(filepath.Join("..", b.excerpt))
			require.NoError(t, err, "%s quotes %s", p.path, b.excerpt)
			assert.True(t, isExcerpt(strings.Split(string(src), "\n"), strings.Split(strings.TrimSuffix(b.text, "\n"), "\n")),
				"%s: the block marked %s is not an excerpt of it:\n%s", p.path, b.excerpt, b.text)
			checked++
		}
	}
	assert.GreaterOrEqual(t, checked, 2, "the README's Go use and docs/operations.md's CDK use")
}

// isExcerpt tells whether block is a run of lines of file, both without their common leading tabs.
func isExcerpt(file, block []string) bool {
	dedent := func(lines []string) []string {
		n := -1
		for _, l := range lines {
			if strings.TrimSpace(l) != "" {
				if d := len(l) - len(strings.TrimLeft(l, "\t")); n < 0 || d < n {
					n = d
				}
			}
		}
		out := make([]string, len(lines))
		for i, l := range lines {
			out[i] = strings.TrimPrefix(l, strings.Repeat("\t", max(n, 0)))
		}
		return out
	}
	want := dedent(block)
	for i := 0; i+len(block) <= len(file); i++ {
		if slices.Equal(dedent(file[i:i+len(block)]), want) {
			return true
		}
	}
	return false
}
