%% SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
%%
%% paper_bench.erl - the concurrency benchmarks of the Termite paper
%% (sections 7.2 and 7.3.1) in Erlang, the same programs as
%% bench/paper_bench.c:
%%
%%   erl -noshell -pa build/bench/erl -s paper_bench main TEST ARGS... -s init stop
%%
%%   spawn N REPS          chain of N processes; us per process
%%   send N REPS           send to self and receive; us per message
%%   ring N K REPS         ring of N processes passing K..0; us per process
%%   pingpong LEN N REPS   N round trips of a list of LEN small integers;
%%                         us per message (one way)
%%   mem N                 N live processes blocked in a receive:
%%                         erlang:memory(processes) and VmRSS deltas,
%%                         bytes per process
%%
%% Output: CSV lines TABLE,erlang,PARAM,REP,VALUE,N (see scripts/bench.sh).
-module(paper_bench).
-export([main/1]).

main([Test | Args]) ->
    run(Test, [list_to_integer(atom_to_list(A)) || A <- Args]).

run(spawn, [N, Reps]) ->
    reps(Reps, fun(R) -> out(spawn, N, R, spawn_chain(N), N) end);
run(send, [N, Reps]) ->
    reps(Reps, fun(R) -> out(send, N, R, send_self(N), N) end);
run(ring, [N, K, Reps]) ->
    Table = "ring_k" ++ integer_to_list(K),
    reps(Reps, fun(R) -> out(Table, N, R, ring(N, K), N) end);
run(pingpong, [Len, N, Reps]) ->
    reps(Reps, fun(R) -> out(pingpong, Len, R, pingpong(Len, N), N) end);
run(mem, [N]) ->
    mem(N).

reps(Reps, F) ->
    lists:foreach(fun(R) -> F(R), garbage_collect() end, lists:seq(1, Reps)).

out(Table, Param, Rep, Value, N) ->
    io:format("~s,erlang,~w,~w,~.3f,~w~n", [Table, Param, Rep, Value, N]).

now_us() -> erlang:monotonic_time(nanosecond) / 1000.

%% ---- spawn: a chain of processes, each spawning the next ----

spawn_chain(N) ->
    Self = self(),
    T0 = now_us(),
    spawn(fun() -> chain(N - 1, Self) end),
    receive done -> ok end,
    (now_us() - T0) / N.

chain(0, Done) -> Done ! done;
chain(N, Done) -> spawn(fun() -> chain(N - 1, Done) end).

%% ---- send: to oneself ----

send_self(N) ->
    T0 = now_us(),
    send_loop(self(), 0, N),
    (now_us() - T0) / N.

send_loop(_, N, N) -> ok;
send_loop(Self, I, N) ->
    Self ! I,
    receive _ -> ok end,
    send_loop(Self, I + 1, N).

%% ---- ring ----

%% The caller is the ring's last member: it spawns N processes, sends K to
%% the first and then behaves as they do.  The process that turns 1 into 0
%% (ring position (K - 1) mod (N + 1), N being the caller) ends last: the
%% 0 goes once around the ring and back to it.  The caller monitors it, so
%% that the time covers the whole ring's creation, messages and ends.
ring(N, K) ->
    T0 = now_us(),
    X = (K + N) rem (N + 1),
    {First, Last} = make_ring(N, X, self(), none),
    Ref = case Last of
              none -> none;
              _ -> erlang:monitor(process, Last)
          end,
    First ! K,
    ring_main(First),
    case Ref of
        none -> ok;
        _ -> receive {'DOWN', Ref, process, _, _} -> ok end
    end,
    (now_us() - T0) / N.

%% Spawned in reverse: the I-th one spawned (counting down) is at I - 1.
make_ring(0, _, Next, Last) -> {Next, Last};
make_ring(I, X, Next, Last) ->
    P = spawn(fun() -> ring_proc(Next) end),
    make_ring(I - 1, X, P, case I - 1 of X -> P; _ -> Last end).

ring_main(First) ->
    receive
        0 -> First ! 0;
        V -> First ! V - 1, ring_main(First)
    end.

ring_proc(Next) ->
    receive
        0 -> Next ! 0;
        V -> Next ! V - 1, ring_proc(Next)
    end.

%% ---- ping-pong ----

pingpong(Len, N) ->
    List = lists:seq(1, Len),
    Pong = spawn(fun pong/0),
    T0 = now_us(),
    ping(Pong, List, N),
    T = now_us() - T0,
    Pong ! stop,
    T / (2 * N).

ping(_, _, 0) -> ok;
ping(Pong, List, I) ->
    Pong ! {self(), List},
    receive L when is_list(L) -> ok end,
    ping(Pong, List, I - 1).

pong() ->
    receive
        {From, L} -> From ! L, pong();
        _ -> ok
    end.

%% ---- memory of live processes ----

mem(N) ->
    garbage_collect(),
    P0 = erlang:memory(processes),
    R0 = rss_kb(),
    T0 = now_us(),
    spawn_waiters(N),
    receive after 100 -> ok end,
    T = now_us() - T0,
    P1 = erlang:memory(processes),
    R1 = rss_kb(),
    out(mem_erl_processes, N, 1, (P1 - P0) / N, N),
    out(mem_user, N, 1, (R1 - R0) * 1024 / N, N),
    out(mem_spawn_us, N, 1, T / N, N),
    %% Leave them blocked: halting ends them all at once.
    erlang:halt(0).

spawn_waiters(0) -> ok;
spawn_waiters(I) ->
    spawn(fun() -> receive go -> ok end end),
    spawn_waiters(I - 1).

rss_kb() ->
    {ok, Bin} = file:read_file("/proc/self/status"),
    [Line] = [L || L <- binary:split(Bin, <<"\n">>, [global]),
                   binary:part(L, 0, min(6, byte_size(L))) =:= <<"VmRSS:">>],
    [_, Kb | _] = binary:split(Line, [<<" ">>, <<"\t">>], [global, trim_all]),
    binary_to_integer(Kb).
