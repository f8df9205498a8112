package main

import (
	"fmt"
	"io"
	"os"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/proxy"
	"github.com/loopguard/loopguard/proxy/ca"
	"github.com/rs/zerolog"
)

func caCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: loopguard ca init --dir DIR | loopguard ca cert [--config FILE]")
		return fmt.Errorf("%w: ca needs a subcommand: init or cert", errUsage)
	}
	switch args[0] {
	case "init":
		fs := newFlags("ca init", "ca init --dir DIR", stderr)
		dir := fs.String("dir", "./loopguard-ca", "directory for ca.pem and ca-key.pem (key mode 0600)")
		force := fs.Bool("force", false, "replace an existing CA")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if !*force {
			if _, err := os.Stat(*dir + "/ca.pem"); err == nil {
				return fmt.Errorf("ca init: %s/ca.pem exists; use --force to replace it", *dir)
			}
		}
		a, err := ca.Generate("loopguard CA")
		if err != nil {
			return err
		}
		if err := a.WriteFiles(*dir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s/ca.pem and %s/ca-key.pem (0600)\n", *dir, *dir)
		return nil
	case "cert":
		fs := newFlags("ca cert", "ca cert [--config FILE]", stderr)
		cfgPath := fs.String("config", configs.DefaultFile, "configuration file naming the CA")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		l, err := configs.Load(*cfgPath, os.LookupEnv)
		if err != nil {
			return err
		}
		a, err := proxy.LoadCA(l.Config.CA, zerolog.New(stderr))
		if err != nil {
			return err
		}
		_, err = stdout.Write(a.CertPEM())
		return err
	case "-h", "--help":
		fmt.Fprintln(stderr, "usage: loopguard ca init --dir DIR | loopguard ca cert [--config FILE]")
		return nil
	}
	return fmt.Errorf("%w: unknown ca subcommand %q (want init or cert)", errUsage, args[0])
}
