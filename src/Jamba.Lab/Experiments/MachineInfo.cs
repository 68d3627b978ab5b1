using System.Globalization;

namespace Jamba.Lab.Experiments;

/// <summary>
/// One line describing the machine a measurement ran on (logical CPUs, CPU model, memory, torch threads), printed
/// with every experiment so that a table in the docs always says where its numbers came from.
/// </summary>
public static class MachineInfo
{
    /// <summary>e.g. <c>2 logical CPUs (AMD EPYC), 23.4 GiB memory, 2 torch threads, load average 3.1</c>.</summary>
    public static string Describe()
    {
        string cpu = ReadField("/proc/cpuinfo", "model name") ?? "unknown CPU";
        string memory = ReadField("/proc/meminfo", "MemTotal") is string m && long.TryParse(m.Replace("kB", "").Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long kb)
            ? string.Create(CultureInfo.InvariantCulture, $"{kb / 1048576.0:F1} GiB memory")
            : "memory unknown";
        string load = TryRead("/proc/loadavg") is string l ? $", load average {l.Split(' ')[0]}" : "";
        return $"{Environment.ProcessorCount} logical CPUs ({cpu}), {memory}, {TorchSharp.torch.get_num_threads()} torch threads{load}";
    }

    private static string? ReadField(string path, string key)
    {
        var text = TryRead(path);
        if (text is null) return null;
        foreach (var line in text.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Trim() == key) return line[(colon + 1)..].Trim();
        }
        return null;
    }

    private static string? TryRead(string path)
    {
        try { return File.Exists(path) ? File.ReadAllText(path) : null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
