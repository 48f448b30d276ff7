# SIGTERM while writing removes the temporary output
mkfifo in.pipe
$NL_EXEC nl-convert in.pipe out.nlt 2>/dev/null &
pid=$!
exec 3>in.pipe
printf '\211NLT\r\n\032\n' >&3
i=0
while [ -z "$(ls -A | grep '^\.out\.nlt\.')" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ $i -lt 100 ] || echo "no temporary seen"
kill -TERM $pid
wait $pid
echo "status $?"
exec 3>&-
ls -A | grep -v -e '^in.pipe$' -e '^\.std'
true
