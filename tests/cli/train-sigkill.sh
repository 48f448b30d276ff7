# a run killed with SIGKILL and resumed from its last checkpoint ends with the checkpoint of
# the uninterrupted run
seq 1 3000 | nl-tokenize -k bytes -o data.nlt
set -- -q -j 1 -D layers=1 -D d_model=32 -D heads=2 -D mlp.hidden=64 -T 32 -b 8 -e 5 -n 400
nl-train "$@" -o whole.tar data.nlt
nl-train "$@" -o cut.tar data.nlt &
pid=$!
# (a crashed run must fail the test, not hang it)
while [ ! -f cut.tar ] && kill -0 $pid 2>/dev/null; do sleep 0.01; done
kill -9 $pid
wait $pid
echo "killed $?"
nl-convert -l cut.tar >/dev/null && echo "cut.tar loadable"
ls .cut.tar.* 2>/dev/null | head -1 > leftovers
nl-train -q -j 1 -i cut.tar -o cut.tar data.nlt && echo "resumed $?"
cmp whole.tar cut.tar && echo same
