import Foundation

/// C's `strftime` in the "C" locale, for transformers' `strftime_now(format)` global.
enum Strftime {
    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August",
                             "September", "October", "November", "December"]
    static let dayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    /// `date` formatted in `timeZone` by `format`; unknown directives are kept verbatim.
    static func format(_ format: String, date: Date, timeZone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday, .nanosecond], from: date)
        let year = parts.year ?? 1970, month = parts.month ?? 1, day = parts.day ?? 1
        let hour = parts.hour ?? 0, minute = parts.minute ?? 0, second = parts.second ?? 0
        let weekday = (parts.weekday ?? 1) - 1
        let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
        func pad(_ value: Int, _ width: Int = 2, _ fill: Character = "0") -> String {
            let digits = String(value)
            return String(repeating: fill, count: max(0, width - digits.count)) + digits
        }
        var result = ""
        var characters = format.makeIterator()
        while let character = characters.next() {
            guard character == "%" else { result.append(character); continue }
            guard let directive = characters.next() else { result.append("%"); break }
            switch directive {
            case "Y": result += String(year)
            case "y": result += pad(year % 100)
            case "m": result += pad(month)
            case "d": result += pad(day)
            case "e": result += pad(day, 2, " ")
            case "H": result += pad(hour)
            case "I": result += pad(hour % 12 == 0 ? 12 : hour % 12)
            case "M": result += pad(minute)
            case "S": result += pad(second)
            case "f": result += pad((parts.nanosecond ?? 0) / 1000, 6)
            case "p": result += hour < 12 ? "AM" : "PM"
            case "B": result += monthNames[month - 1]
            case "b", "h": result += String(monthNames[month - 1].prefix(3))
            case "A": result += dayNames[weekday]
            case "a": result += String(dayNames[weekday].prefix(3))
            case "w": result += String(weekday)
            case "u": result += String(weekday == 0 ? 7 : weekday)
            case "j": result += pad(dayOfYear, 3)
            case "D": result += pad(month) + "/" + pad(day) + "/" + pad(year % 100)
            case "F": result += String(year) + "-" + pad(month) + "-" + pad(day)
            case "T": result += pad(hour) + ":" + pad(minute) + ":" + pad(second)
            case "R": result += pad(hour) + ":" + pad(minute)
            case "n": result += "\n"
            case "t": result += "\t"
            case "%": result += "%"
            default: result += "%" + String(directive)
            }
        }
        return result
    }
}
