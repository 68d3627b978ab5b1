using System.Globalization;
using System.Runtime.InteropServices;

namespace Jamba.Experiments;

/// <summary>
/// This process's resident memory as Linux counts it (<c>/proc/self/status</c>). The experiments report it
/// because libtorch's tensors live on the native heap, which the .NET GC does not see. 0 where there is no procfs.
/// </summary>
internal static class ResidentMemory
{
    /// <summary>Current resident set size in bytes (VmRSS).</summary>
    public static long Bytes
    {
        get
        {
            try
            {
                foreach (var line in File.ReadLines("/proc/self/status"))
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                        return long.Parse(line.AsSpan(6).Trim().ToString().Replace(" kB", ""), CultureInfo.InvariantCulture) * 1024;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
            return 0;
        }
    }

    /// <summary>
    /// Hands freed native memory back to the system (glibc <c>malloc_trim</c>), so that one measurement's resident
    /// figure is not inflated by what an earlier one freed. Does nothing without glibc.
    /// </summary>
    public static void Trim()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        if (!OperatingSystem.IsLinux()) return;
        try { malloc_trim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);
}
