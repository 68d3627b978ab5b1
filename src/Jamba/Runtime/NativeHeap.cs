using System.Runtime.InteropServices;

namespace Jamba.Runtime;

/// <summary>
/// The process's native heap (glibc's malloc, which libtorch allocates tensors from): how large blocks are served and
/// when free pages go back to the system. Used by inference (long prefills) and by the tool's process policy alike.
/// </summary>
public static class NativeHeap
{
    /// <summary>
    /// Returns freed native heap to the system (glibc <c>malloc_trim</c>), so that memory freed by an earlier phase
    /// is not counted in the next phase's resident figures. Returns false where there is no glibc.
    /// </summary>
    public static bool Trim()
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
}
