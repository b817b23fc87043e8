package command

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/driver"
)

// completeTimeout bounds what one TAB may wait for the host.
const completeTimeout = 5 * time.Second

// What an argument names, read from its word in a command's usage line
// ("show [HOST/]PROFILE"), and where the host lists such objects.
var listedAt = map[string]string{
	"PROFILE":  "/1.0/profiles",
	"NETWORK":  "/1.0/networks",
	"POOL":     "/1.0/storage-pools",
	"PROJECT":  "/1.0/projects",
	"MEMBER":   "/1.0/cluster/members",
	"GROUP":    "/1.0/cluster/groups",
	"REF":      "/1.0/images/aliases",
	"INSTANCE": "/1.0/instances",
}

// makesNew are the commands whose first argument names an object they
// make: nothing to complete.
var makesNew = map[string]bool{
	"launch": true, "profile create": true, "network create": true, "storage create": true,
	"project create": true, "cluster group create": true, "cluster add": true,
	"image alias create": true, "remote add": true, "trust token": true,
}

// addCompletion gives every command of the tree dynamic completion of
// its first argument (of every argument where it takes several of one
// kind), and of the global flags' values.
func addCompletion(f *cmdutil.Factory, root *cobra.Command) {
	flagValues(root, "format", fixed(cmdutil.Formats...))
	flagValues(root, "driver", fixed(cmdutil.DriverREST, cmdutil.DriverCLI))
	flagValues(root, "host", remoteNames(f, ""))
	flagValues(root, "project", listed(f, "/1.0/projects", ""))
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		flagValues(c, "target", listed(f, "/1.0/cluster/members", ""))
		flagValues(c, "target-project", listed(f, "/1.0/projects", ""))
		flagValues(c, "profile", listed(f, "/1.0/profiles", ""))
		flagValues(c, "image", listed(f, "/1.0/images/aliases", ""))
		if c.Runnable() && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = argCompletion(f, c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	for _, c := range root.Commands() {
		walk(c)
	}
}

// argCompletion reads what c's arguments name from its usage line.
func argCompletion(f *cmdutil.Factory, c *cobra.Command) cobra.CompletionFunc {
	sub := strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
	words := strings.Fields(c.Use)
	if makesNew[sub] || len(words) < 2 {
		return noFiles
	}
	word := strings.TrimPrefix(words[1], "[HOST/]")
	if opt, ok := strings.CutPrefix(word, "["); ok { // an optional argument: "info [NAME]"
		word = strings.TrimSuffix(opt, "]")
	}
	many := strings.HasSuffix(word, "...")
	word = strings.TrimSuffix(word, "...")
	suffix := ""
	if strings.HasSuffix(word, ":PATH") {
		word, suffix = "NAME", ":"
	}
	var complete cobra.CompletionFunc
	switch {
	case c.Parent() != nil && c.Parent().Name() == "remote" && word == "NAME":
		complete = remoteNames(f, suffix)
	case c.Parent() != nil && c.Parent().Name() == "alias" && word == "NAME":
		complete = listed(f, "/1.0/images/aliases", "")
	case word == "NAME" || word == "CONTAINER" || word == "SOURCE":
		complete = listed(f, "/1.0/instances", suffix)
	case listedAt[word] != "":
		complete = listed(f, listedAt[word], "")
	default:
		return nil // files, keys, tokens: the shell's own completion
	}
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 && !many {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return complete(cmd, args, toComplete)
	}
}

// listed completes the names the host lists at apiPath, each followed by
// suffix. A word with a slash completes inside a nested host: "outer/w"
// lists the daemon in outer's objects starting with "w".
func listed(f *cmdutil.Factory, apiPath, suffix string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(context.Background(), completeTimeout)
		defer cancel()
		d, err := f.Driver(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		dir := ""
		if i := strings.LastIndexByte(toComplete, '/'); i >= 0 {
			dir = toComplete[:i]
			if d, err = driver.HostAt(ctx, d, dir); err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
			}
			dir += "/"
		}
		var urls []string
		if _, err := d.API().Query(ctx, http.MethodGet, apiPath, nil, &urls); err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, u := range urls {
			name, err := url.PathUnescape(path.Base(strings.SplitN(u, "?", 2)[0]))
			if err == nil && strings.HasPrefix(dir+name, toComplete) {
				out = append(out, dir+name+suffix)
			}
		}
		return out, directive(suffix)
	}
}

// remoteNames completes the names of the remotes lxkit knows (its own,
// lxc's and incus's).
func remoteNames(f *cmdutil.Factory, suffix string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		store, err := f.Remotes()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, r := range store.List() {
			if !r.Shadowed && strings.HasPrefix(r.Name, toComplete) {
				out = append(out, r.Name+suffix)
			}
		}
		return out, directive(suffix)
	}
}

// fixed completes one of values.
func fixed(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

func noFiles(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// directive: no file names, and no space after a word that goes on
// (NAME: before a path).
func directive(suffix string) cobra.ShellCompDirective {
	if suffix != "" {
		return cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
	return cobra.ShellCompDirectiveNoFileComp
}

// flagValues registers complete for c's own flag name, if c has one and
// it has no completion yet.
func flagValues(c *cobra.Command, name string, complete cobra.CompletionFunc) {
	if c.Flags().Lookup(name) == nil && c.PersistentFlags().Lookup(name) == nil {
		return
	}
	if _, ok := c.GetFlagCompletionFunc(name); !ok {
		_ = c.RegisterFlagCompletionFunc(name, complete)
	}
}
