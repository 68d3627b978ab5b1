// Usage: Jamba.MLNet.LoadCheck <model file> <text file, one text per line> <column,column,...>
// Loads the pipeline with ml.Model.LoadJamba in this fresh process, scores the texts (column "Text") and prints one
// line per row: the named float / float-vector / key / bool columns, values in round-trip format.
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

var ml = new MLContext(seed: 1);
using var model = (IDisposable)ml.Model.LoadJamba(args[0], out var inputSchema);
var texts = File.ReadAllLines(args[1]).Select(t => new Row { Text = t }).ToList();
var scored = ((ITransformer)model).Transform(ml.Data.LoadFromEnumerable(texts));
foreach (var line in Dump(scored, args[2].Split(','))) Console.WriteLine(line);

static IEnumerable<string> Dump(IDataView view, string[] columns)
{
    var cols = columns.Select(c => view.Schema[c]).ToArray();
    using var cursor = view.GetRowCursor(cols);
    var readers = cols.Select(c => Reader(cursor, c)).ToArray();
    while (cursor.MoveNext()) yield return string.Join("\t", readers.Select(r => r()));
}

static Func<string> Reader(DataViewRow row, DataViewSchema.Column c)
{
    switch (c.Type)
    {
        case VectorDataViewType { ItemType: NumberDataViewType n } when n.RawType == typeof(float):
        {
            var g = row.GetGetter<VBuffer<float>>(c);
            return () => { VBuffer<float> v = default; g(ref v); return string.Join(",", v.DenseValues().Select(x => x.ToString("R", CultureInfo.InvariantCulture))); };
        }
        case KeyDataViewType:
        {
            var g = row.GetGetter<uint>(c);
            return () => { uint v = 0; g(ref v); return v.ToString(CultureInfo.InvariantCulture); };
        }
        case BooleanDataViewType:
        {
            var g = row.GetGetter<bool>(c);
            return () => { bool v = false; g(ref v); return v ? "true" : "false"; };
        }
        default:
        {
            var g = row.GetGetter<float>(c);
            return () => { float v = 0; g(ref v); return v.ToString("R", CultureInfo.InvariantCulture); };
        }
    }
}

internal sealed class Row
{
    public string Text { get; set; } = "";
    // Pipelines that key a label column at their start need the column, even when scoring ignores it.
    public string Label { get; set; } = "";
}
