using System.Runtime.InteropServices;

namespace Jamba.Benchmarking;

/// <summary>
/// Resident memory of this process as the kernel counts it (Linux <c>/proc/self/status</c>): what the benchmarks
/// report as memory, because it includes libtorch's allocations, which the .NET GC does not see.
/// On systems without procfs every figure is 0.
/// </summary>
public static class ProcessMemory
{
    /// <summary>Current resident set size in bytes (VmRSS).</summary>
    public static long ResidentBytes => Read("VmRSS:");

    /// <summary>Peak resident set size in bytes since start or the last <see cref="ResetPeak"/> (VmHWM).</summary>
    public static long PeakResidentBytes => Read("VmHWM:");

    /// <summary>
    /// Resets the peak to the current resident size (writes 5 to <c>/proc/self/clear_refs</c>), so a phase's peak
    /// can be measured without the earlier phases'. Returns false where the kernel does not allow it.
    /// </summary>
    public static bool ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); return true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException) { return false; }
    }

    /// <summary>
    /// Returns freed native heap to the system (glibc <c>malloc_trim</c>), so that memory freed by an earlier phase
    /// is not counted in the next phase's resident figures. Returns false where there is no glibc.
    /// </summary>
    public static bool TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return malloc_trim(0) != 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    /// <summary>
    /// Makes glibc serve blocks of at least <paramref name="thresholdBytes"/> straight from the system and give them
    /// back on free (a fixed <c>M_MMAP_THRESHOLD</c>). By default glibc raises that threshold to 32 MiB after the
    /// first large free, so the large buffers of a long chunked prefill (the attention bias of a chunk at 32K context
    /// is 64 MiB) stay in per-thread heaps and the process keeps a few hundred MiB it no longer uses. The cost is a
    /// page fault per page of each block served this way, so the default of 8 MiB leaves the few-MiB activations of a
    /// prefill chunk to the heap: at 1 MiB, page faults made a 512-token chunk of bench-30m 3.4× slower on this VM
    /// (1.2 s against 0.35 s). Returns false where there is no glibc.
    /// </summary>
    public static bool ReturnLargeBlocksToSystem(int thresholdBytes = 8 << 20)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return mallopt(-3 /* M_MMAP_THRESHOLD */, thresholdBytes) == 1; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);

    private static long Read(string key)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(key, StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(key.Length).Trim().ToString().Replace(" kB", ""), System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return 0;
    }
}
