package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/baram-mqtt/baram/internal/auth"
)

// maxPassword is the longest password MQTT can carry.
const maxPassword = 65535

// passwdFlags holds the flags of the passwd command.
type passwdFlags struct {
	batch  bool // -b: the password is the third argument
	delete bool // -D: delete the user
	create bool // -c: start a new file
}

// newPasswdCommand returns the "passwd" command, baram's mosquitto_passwd.
func newPasswdCommand() *cobra.Command {
	var f passwdFlags
	cmd := &cobra.Command{
		Use:   "passwd [-c] FILE USER | -b [-c] FILE USER PASSWORD | -D FILE USER",
		Short: "Set or delete a user's password in a password file",
		Long: "Set USER's password in the password FILE (auth.password_file), as\n" +
			"mosquitto_passwd does. The password is hashed with argon2id; the user's line\n" +
			"is replaced, or added, and every other line is kept. A missing FILE is\n" +
			"created with mode 0600; an existing one keeps its mode and owner and is\n" +
			"replaced atomically, so a running baram picks the change up within two\n" +
			"seconds (or at once on SIGHUP).\n\n" +
			"The password is asked for twice on a terminal, without echo. When standard\n" +
			"input is not a terminal, its first line is the password, so scripts can\n" +
			"pipe it in; -b takes it from the command line instead (visible to other\n" +
			"users in the process list).\n\n" +
			"-c starts a new file holding only USER, replacing FILE if it exists.\n" +
			"-D deletes USER from FILE.\n\n" +
			"A SCRAM-SHA-256 credential of USER is kept in FILE.scram (same mode and\n" +
			"editing) for MQTT 5 enhanced authentication (Authentication Method\n" +
			"SCRAM-SHA-256); -D removes it too.\n\n" +
			"baram reads the files of mosquitto_passwd unchanged ($7$, $6$, bcrypt and\n" +
			"argon2id hashes). Mosquitto reads the argon2id hashes written here from 2.1\n" +
			"on (when built with argon2), not 2.0.",
		Example: "  baram passwd -c /etc/baram/passwd alice\n" +
			"  echo \"$PASSWORD\" | baram passwd /etc/baram/passwd bob\n" +
			"  baram passwd -b /etc/baram/passwd carol 's3cret'\n" +
			"  baram passwd -D /etc/baram/passwd bob",
		Args: f.args,
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, args)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&f.batch, "batch", "b", false, "take the password from the command line: FILE USER PASSWORD")
	fs.BoolVarP(&f.delete, "delete", "D", false, "delete USER from FILE")
	fs.BoolVarP(&f.create, "create", "c", false, "create FILE anew, replacing it if it exists, with USER only")
	return cmd
}

// args checks the arguments and flags together, before any prompt.
func (f *passwdFlags) args(_ *cobra.Command, args []string) error {
	want := 2
	if f.batch {
		want = 3
	}
	switch {
	case f.delete && f.batch:
		return usageError{errors.New("-D and -b do not go together: deleting a user needs no password")}
	case f.delete && f.create:
		return usageError{errors.New("-D and -c do not go together: a new file has no user to delete")}
	case len(args) != want && f.batch:
		return usageError{fmt.Errorf("-b takes FILE USER PASSWORD, got %d arguments", len(args))}
	case len(args) != want:
		return usageError{fmt.Errorf("want FILE USER, got %d arguments (with -b: FILE USER PASSWORD)", len(args))}
	}
	if err := auth.ValidateUsername(args[1]); err != nil {
		return usageError{err}
	}
	if args[0] == "" {
		return usageError{errors.New("FILE is empty")}
	}
	return nil
}

// run sets or deletes the password.
func (f *passwdFlags) run(cmd *cobra.Command, args []string) error {
	file, user := args[0], args[1]
	if f.delete {
		// The sidecar first, so a reload never sees a user's SCRAM
		// credential outlive the password.
		if err := auth.DeleteScramCredential(file+auth.ScramSuffix, user); err != nil {
			return err
		}
		err := auth.DeleteUser(file, user)
		if errors.Is(err, auth.ErrNoSuchUser) {
			return fmt.Errorf("user %q is not in %s", user, file)
		}
		return err
	}
	var password []byte
	if f.batch {
		password = []byte(args[2])
	} else {
		var err error
		if password, err = readPassword(cmd.InOrStdin(), cmd.ErrOrStderr()); err != nil {
			return err
		}
	}
	switch {
	case len(password) == 0:
		return errors.New("the password is empty")
	case len(password) > maxPassword:
		return fmt.Errorf("the password is %d bytes long; MQTT carries at most %d", len(password), maxPassword)
	}
	// The SCRAM sidecar first: the broker reloads both when the password
	// file changes.
	if err := auth.SetScramCredential(file+auth.ScramSuffix, user, password, f.create); err != nil {
		return err
	}
	if f.create {
		return createPasswordFile(file, user, password)
	}
	return auth.SetPassword(file, user, password)
}

// readPassword reads the password: twice without echo from a terminal,
// prompting on prompt, or as the first line of anything else.
func readPassword(in io.Reader, prompt io.Writer) ([]byte, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		fmt.Fprint(prompt, "Password: ")
		first, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return nil, fmt.Errorf("read the password: %w", err)
		}
		fmt.Fprint(prompt, "Reenter password: ")
		second, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return nil, fmt.Errorf("read the password: %w", err)
		}
		if !bytes.Equal(first, second) {
			return nil, errors.New("the passwords do not match")
		}
		return first, nil
	}
	line, err := bufio.NewReaderSize(io.LimitReader(in, maxPassword+3), 4096).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read the password from standard input: %w", err)
	}
	if len(line) == 0 {
		return nil, errors.New("no password on standard input (it is not a terminal; pipe the password in, or use -b)")
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// createPasswordFile replaces the file at path, or creates it, with one
// holding only user's line, mode 0600, as mosquitto_passwd -c. The new
// file is written next to path and renamed over it, so a reader never
// sees it half-written; a symbolic link at path is followed.
func createPasswordFile(path, user string, password []byte) (err error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".new-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			os.Remove(name)
		}
	}()
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := auth.SetPassword(name, user, password); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}
