#!/usr/bin/env python3
"""Builds the charset test pages (run once; the pages are committed):

  ru-koi8r.html       Russian, koi8-r, declared in <meta http-equiv=Content-Type>
  be-cp1251.html      Belarusian, windows-1251, declared in <meta charset>
                      (Belarusian needs і and ў, which koi8-r lacks)
  ru-undeclared.html  Russian, windows-1251, declared nowhere: the uchardet path
                      (and, in the unit test, the HTTP-charset path)

NAME.article.txt holds the article paragraphs in UTF-8 (all must come out),
NAME.boilerplate.txt the navigation, advertisement, share and cookie texts
(none may), NAME.meta.json the expected title, lang and charset.
"""
import html
import json
import os

PAGES = {
    "ru-koi8r": {
        "charset": "koi8-r", "declare": "http-equiv", "lang": "ru", "site": "Балтийский обозреватель",
        "title": "Пограничники Литвы усилили охрану границы с Беларусью",
        "paras": [
            "Государственная служба охраны границы Литвы сообщила в понедельник, что усиливает патрулирование "
            "на участке границы с Беларусью после нескольких попыток незаконного пересечения, зафиксированных за выходные.",
            "По данным ведомства, за двое суток пограничники не пустили в страну более сорока человек. Большинство "
            "из них, как утверждается, были доставлены к границе организованными группами.",
            "Министр внутренних дел заявила журналистам, что ситуация остаётся под контролем, однако правительство "
            "готово рассмотреть временное закрытие ещё двух пунктов пропуска.",
            "Эксперты напоминают, что в 2021 году поток мигрантов через белорусскую границу привёл к введению "
            "чрезвычайного положения в приграничных районах Литвы, Латвии и Польши.",
        ],
        "nav": ["Главная", "Новости", "Политика", "В мире", "Экономика"],
        "ad": "Реклама", "share": "Поделиться",
        "cookie": "Мы используем файлы cookie, чтобы сайт работал лучше. Оставаясь на сайте, вы соглашаетесь с этим.",
        "related": ["Польша продлила режим ЧП на границе", "Латвия закрыла ещё один пункт пропуска"],
    },
    "be-cp1251": {
        "charset": "windows-1251", "declare": "meta", "lang": "be", "site": "Навіны Прыдняпроўя",
        "title": "Астравецкая АЭС зноў спыніла другі энергаблок",
        "paras": [
            "Другі энергаблок Беларускай атамнай электрастанцыі ў Астраўцы быў адключаны ад сеткі ў чацвер, "
            "паведамілі ў Міністэрстве энергетыкі. Прычыны спынення афіцыйна не называюцца.",
            "Літоўскія ўлады, якія лічаць станцыю пагрозай нацыянальнай бяспецы, заклікалі Мінск неадкладна "
            "раскрыць інфармацыю пра інцыдэнт і запрасіць міжнародных экспертаў.",
            "Гэта ўжо не першае нечаканае спыненне энергаблока з моманту запуску станцыі. Незалежныя эксперты "
            "адзначаюць, што частыя адключэнні сведчаць пра праблемы з абсталяваннем.",
            "Атамная электрастанцыя размешчана прыкладна за пяцьдзясят кіламетраў ад Вільні, і літоўскі ўрад "
            "рэгулярна праводзіць вучэнні на выпадак радыяцыйнай аварыі.",
        ],
        "nav": ["Галоўная", "Навіны", "Палітыка", "Эканоміка", "Спорт"],
        "ad": "Рэклама", "share": "Падзяліцца",
        "cookie": "Мы выкарыстоўваем файлы cookie, каб сайт працаваў лепш. Застаючыся на сайце, вы згаджаецеся з гэтым.",
        "related": ["Літва правяла вучэнні каля Астраўца", "МАГАТЭ накіруе місію ў Беларусь"],
    },
    "ru-undeclared": {
        "charset": "windows-1251", "declare": None, "lang": "ru", "site": "Хроника",
        "title": "В Минске задержали родственников эмигрантов",
        "paras": [
            "Правозащитники сообщают о новой волне задержаний в Минске: силовики приходят к родственникам белорусов, "
            "которые уехали из страны после событий 2020 года.",
            "По словам источников, у задержанных изымают телефоны и требуют назвать контакты близких за границей. "
            "Некоторых отпускают после беседы, других оставляют под административным арестом.",
            "Эмигранты рассказывают, что после таких визитов им звонят с незнакомых номеров и предлагают вернуться "
            "на родину, обещая, что никаких претензий к ним не будет.",
            "Эксперты называют такие действия давлением на диаспору и советуют не отвечать на подобные звонки "
            "и не сообщать никаких сведений о себе и своих знакомых.",
        ],
        "nav": ["Главная", "Хроника", "Общество", "Регионы", "Мнения"],
        "ad": "Реклама", "share": "Поделиться",
        "cookie": "Этот сайт использует файлы cookie. Продолжая просмотр, вы соглашаетесь с их использованием.",
        "related": ["Суд в Гомеле вынес приговор блогеру", "Правозащитники насчитали новых политзаключённых"],
    },
}


def build(p):
    e = html.escape
    decl = ""
    if p["declare"] == "meta":
        decl = '<meta charset="%s">\n' % p["charset"]
    elif p["declare"] == "http-equiv":
        decl = '<meta http-equiv="Content-Type" content="text/html; charset=%s">\n' % p["charset"]
    nav = "".join('<li><a href="/%d/">%s</a></li>' % (i, e(n)) for i, n in enumerate(p["nav"]))
    body = []
    for i, para in enumerate(p["paras"]):
        body.append("<p>%s</p>\n" % e(para))
        if i == 1:
            body.append('<div class="adv"><p>%s</p></div>\n' % e(p["ad"]))
    rel = "".join('<li><a href="/r/%d">%s</a></li>' % (i, e(t)) for i, t in enumerate(p["related"]))
    return f"""<!DOCTYPE html>
<html lang="{p["lang"]}">
<head>
{decl}<title>{e(p["title"])} - {e(p["site"])}</title>
<meta property="og:site_name" content="{e(p["site"])}">
<meta property="article:published_time" content="2023-02-21T10:15:00+03:00">
</head>
<body>
<div id="cookie-notice"><p>{e(p["cookie"])}</p><button>OK</button></div>
<div class="header"><a href="/" class="logo">{e(p["site"])}</a><ul class="menu">{nav}</ul></div>
<div class="content">
<h1>{e(p["title"])}</h1>
<div class="text">
{"".join(body)}</div>
<div class="share"><a href="#">{e(p["share"])}</a> <a href="#">Facebook</a> <a href="#">Telegram</a></div>
</div>
<div class="related"><ul>{rel}</ul></div>
<div class="footer"><p>&copy; 2023 {e(p["site"])}</p></div>
</body>
</html>
"""


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for name, p in PAGES.items():
        with open(os.path.join(here, name + ".html"), "wb") as f:
            f.write(build(p).encode(p["charset"]))
        with open(os.path.join(here, name + ".article.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(p["paras"]) + "\n")
        with open(os.path.join(here, name + ".boilerplate.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(p["nav"] + [p["ad"], p["share"], p["cookie"]] + p["related"]) + "\n")
        with open(os.path.join(here, name + ".meta.json"), "w", encoding="utf-8") as f:
            json.dump({"title": p["title"], "lang": p["lang"], "charset": p["charset"].upper(),
                       "site_name": p["site"]}, f, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main()
