
namespace Jamba.Lab.Benchmarking;

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
