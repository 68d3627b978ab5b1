using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// Fork–join for work items of a few microseconds each, as in a decode step's matrix–vector products: about a hundred
/// per token, each split across the cores. Handing work to a sleeping thread costs tens of microseconds (a futex
/// wake, the scheduler), as long as the work itself; so the workers spin for a short while after each job, and a
/// decode step, which issues the next job within microseconds, always finds them awake. A worker idle for longer
/// than <see cref="SpinMicroseconds"/> goes to sleep and costs nothing. One job runs at a time: a caller that finds
/// the pool busy (another thread's job) runs its items itself.
/// </summary>
internal sealed class SpinPool
{
    /// <summary>How long an idle worker keeps polling for the next job before it sleeps.</summary>
    public const int SpinMicroseconds = 200;

    private static SpinPool? shared;
    private static readonly object sharedLock = new();

    /// <summary>The process-wide pool, with one worker per core beyond the caller's (created on first use).</summary>
    public static SpinPool Shared
    {
        get
        {
            if (shared is not null) return shared;
            lock (sharedLock) return shared ??= new SpinPool(Environment.ProcessorCount - 1);
        }
    }

    private readonly object runLock = new();
    private readonly SemaphoreSlim wake = new(0);
    private readonly int workers;
    private Job? current;             // the latest job; workers that see a new one drain it
    private int sleepers;             // workers that may be blocked on `wake`

    /// <summary>One job's items. A job object is never reused, so a worker still holding an old one finds it empty.</summary>
    private sealed class Job(Action<int> body, int count)
    {
        public readonly Action<int> Body = body;
        public readonly int Count = count;
        public int Next, Pending = count;
        public Exception? Failure;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Drain()
        {
            int i;
            while ((i = Interlocked.Increment(ref Next) - 1) < Count)
            {
                try { Body(i); }
                catch (Exception e) { Interlocked.CompareExchange(ref Failure, e, null); }
                Interlocked.Decrement(ref Pending);
            }
        }
    }

    private SpinPool(int workers)
    {
        this.workers = Math.Max(0, workers);
        for (int i = 0; i < this.workers; i++)
            new Thread(Work) { IsBackground = true, Name = $"jamba-kernel-{i}" }.Start();
    }

    /// <summary>Runs <paramref name="body"/>(0 … count−1) on the caller and the workers; returns when all are done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void For(int count, int threads, Action<int> body)
    {
        if (count <= 1 || threads <= 1 || workers == 0 || !Monitor.TryEnter(runLock))
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        try
        {
            var job = new Job(body, count);
            Volatile.Write(ref current, job);
            int asleep = Interlocked.Exchange(ref sleepers, 0);
            if (asleep > 0) wake.Release(asleep);
            job.Drain();
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Pending) > 0) spin.SpinOnce(sleep1Threshold: -1);
            if (job.Failure is not null) throw new AggregateException(job.Failure);
        }
        finally
        {
            Monitor.Exit(runLock);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Work()
    {
        Job? seen = Volatile.Read(ref current);
        long spinTicks = Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            while (ReferenceEquals(Volatile.Read(ref current), seen) && Stopwatch.GetTimestamp() - start < spinTicks) Thread.SpinWait(20);
            if (ReferenceEquals(Volatile.Read(ref current), seen))
            {
                // Announce the nap, then re-check: a job posted in between either counted us and releases the
                // semaphore, or is seen here and the wait is skipped (a stale count later causes one spurious wake).
                Interlocked.Increment(ref sleepers);
                if (ReferenceEquals(Volatile.Read(ref current), seen)) wake.Wait();
                continue;
            }
            seen = Volatile.Read(ref current);
            seen!.Drain();
        }
    }
}
