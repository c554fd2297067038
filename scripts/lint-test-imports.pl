#!/usr/bin/perl
# make lint-test-imports: fails, naming file and line, when a test file uses
# a `gmpos::<name>` path whose first segment is not an allowed name (the
# public API and `testing`). Handles `use gmpos::{a, b::c}` groups over
# several lines and inline paths; ignores `//` comments.
#
#   perl scripts/lint-test-imports.pl ALLOWED... -- FILE...
use strict;
use warnings;

my (@ok, @files);
my $seen = 0;
for (@ARGV) {
    if ($_ eq '--') { $seen = 1; next }
    if ($seen) { push @files, $_ } else { push @ok, $_ }
}
my %ok = map { $_ => 1 } @ok;
my $bad = 0;
for my $f (@files) {
    open my $fh, '<', $f or die "$f: $!";
    my $src = do { local $/; <$fh> };
    # Blank out comments, keeping the newlines so line numbers stay right.
    $src =~ s{//[^\n]*}{}g;
    while ($src =~ m#\bgmpos::(\{[^}]*\}|\w+)#g) {
        my ($what, $at) = ($1, $-[1]);
        # (name, offset) pairs: the one name, or each first segment of a group.
        my @names;
        if ($what =~ /^\{/) {
            while ($what =~ /(?:^\{|,)\s*(\w+)/g) { push @names, [$1, $at + $-[1]] }
        } else {
            @names = ([$what, $at]);
        }
        for (grep { !$ok{$_->[0]} } @names) {
            my ($n, $pos) = @$_;
            my $line = 1 + (() = substr($src, 0, $pos) =~ /\n/g);
            print STDERR "$f:$line: gmpos::$n is not public API: go through gmpos::testing "
                . "(kernel/src/testing.rs; re-export it there if tests need it)\n";
            $bad++;
        }
    }
}
if ($bad) {
    print STDERR "lint-test-imports: $bad forbidden gmpos:: path(s); "
        . "allowed: gmpos::{" . join(', ', @ok) . "}\n";
    exit 1;
}
