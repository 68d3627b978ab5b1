using System.Buffers.Binary;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Checkpoints;

/// <summary>A fresh temporary folder per test, deleted afterwards.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "jamba-ckpt-tests", Guid.NewGuid().ToString("N"));

    public TempDir() => Directory.CreateDirectory(Path);

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

internal static class CkptTestUtil
{
    public static string Fixture(params string[] parts) => Path.Combine(new[] { AppContext.BaseDirectory, "Fixtures" }.Concat(parts).ToArray());

    /// <summary>Builds a safetensors file byte by byte, so corrupt variants can be written on purpose.</summary>
    public static byte[] RawFile(string headerJson, byte[] data, ulong? headerLengthOverride = null)
    {
        var h = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLengthOverride ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + h.Length);
        return bytes;
    }

    /// <summary>
    /// Reads one tensor's raw bytes with a plain BinaryReader and System.Text.Json, independently of the library.
    /// </summary>
    public static (string dtype, long[] shape, byte[] data) ReadRaw(string path, string name)
    {
        using var fs = File.OpenRead(path);
        using var r = new BinaryReader(fs);
        long n = (long)r.ReadUInt64();
        var header = System.Text.Json.JsonDocument.Parse(r.ReadBytes((int)n));
        var e = header.RootElement.GetProperty(name);
        var offs = e.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
        fs.Seek(8 + n + offs[0], SeekOrigin.Begin);
        var data = r.ReadBytes((int)(offs[1] - offs[0]));
        return (e.GetProperty("dtype").GetString()!, e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray(), data);
    }

    public static byte[] Bytes(Tensor t)
    {
        using var c = t.cpu().contiguous();
        return c.numel() == 0 ? Array.Empty<byte>() : c.bytes.ToArray();
    }

    public static void AssertSameTensor(Tensor expected, Tensor actual, string what)
    {
        Assert.AreEqual(expected.dtype, actual.dtype, $"{what}: dtype");
        CollectionAssert.AreEqual(expected.shape, actual.shape, $"{what}: shape");
        CollectionAssert.AreEqual(Bytes(expected), Bytes(actual), $"{what}: bytes");
    }

    public static void DisposeAll(IEnumerable<Tensor> tensors)
    {
        foreach (var t in tensors) t.Dispose();
    }
}
