/* A flot plug-in of the convbench asv site: a series with a single point is drawn as
 * a dot. The benchmark grid draws lines only, and a line needs two points, so a
 * benchmark with one comparable run (new, or with changed code: asv sets aside the
 * results of other code versions) would otherwise show an empty box. Where the y axis
 * starts at zero and has no maximum of its own (the grid's boxes), the dot is placed at
 * mid-height rather than on the frame. Series with two or more points, and series that
 * already show their points (the benchmark pages), are drawn exactly as asv draws them. */
(function ($) {
    "use strict";

    function values(data) {
        var out = [];
        for (var i = 0; i < data.length; ++i) {
            var point = data[i];
            if (point !== null && point !== undefined && point[1] !== null &&
                    point[1] !== undefined) {
                out.push(point[1]);
            }
        }
        return out;
    }

    function init(plot) {
        plot.hooks.processRawData.push(function (plot, series, data) {
            var ys = values(data);
            if (series.lines.show && !series.points.show && ys.length === 1) {
                series.points.show = true;
                series.points.radius = 3;
                series.points.fill = true;
                series.points.fillColor = null;  /* the series' own colour */
                var axis = series.yaxis.options;
                if (axis.min === 0 && axis.max == null && ys[0] > 0) {
                    axis.max = 2 * ys[0];
                }
            }
        });
    }

    $.plot.plugins.push({init: init, options: {}, name: "lonepoints", version: "1.0"});
})(jQuery);
