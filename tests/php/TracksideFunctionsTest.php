<?php
/**
 * The module's pure functions (lib/trackside_functions.php), run by
 * tests/unit/test_prestashop_module.py with Debian's phpunit. TRACKSIDE_VECTORS names a JSON
 * file of signatures and join tokens computed by the gateway's Python code
 * (trackside.sources.signing) on the same inputs: PHP must write the same hex.
 */

use PHPUnit\Framework\TestCase;

require_once __DIR__ . '/../../integrations/prestashop/trackside/lib/trackside_functions.php';

final class TracksideFunctionsTest extends TestCase
{
    const KEY = 'canary-signing-key-7f3a';

    private static function vectors()
    {
        $path = getenv('TRACKSIDE_VECTORS');
        if (!$path) {
            self::markTestSkipped('TRACKSIDE_VECTORS not set (run through pytest)');
        }
        return json_decode((string) file_get_contents($path), true);
    }

    public function testPurchaseSignaturesAreThePythonSides()
    {
        $vectors = self::vectors();
        self::assertNotEmpty($vectors['purchases']);
        foreach ($vectors['purchases'] as $v) {
            self::assertSame($v['message'],
                trackside_signature_message($v['reference'], $v['value'], $v['currency']), json_encode($v));
            self::assertSame($v['signature'],
                trackside_sign_purchase($vectors['key'], $v['reference'], $v['value'], $v['currency']), json_encode($v));
        }
    }

    public function testJoinTokensAreThePythonSides()
    {
        $vectors = self::vectors();
        self::assertNotEmpty($vectors['tokens']);
        foreach ($vectors['tokens'] as $v) {
            self::assertSame($v['token'], trackside_join_token($vectors['key'], $v['kind'], $v['id']), json_encode($v));
        }
    }

    public function testHeaderSnippetCarriesTokensNeverTheKey()
    {
        $html = trackside_header_snippet(array('gateway' => 'https://track.shop.example/', 'signing_key' => self::KEY),
            array('cart_id' => 8841, 'customer_id' => 311));
        self::assertStringContainsString('<script async src="https://track.shop.example/t.js"></script>', $html);
        self::assertStringContainsString(trackside_join_token(self::KEY, 'cart', '8841'), $html);
        self::assertStringContainsString(trackside_join_token(self::KEY, 'customer', '311'), $html);
        self::assertStringContainsString("trackside('track', 'PageView'", $html);
        self::assertStringContainsString('tracksideWhenConsented', $html);
        self::assertStringNotContainsString(self::KEY, $html);
    }

    public function testHeaderSnippetForAVisitorWithoutCartOrCustomer()
    {
        $html = trackside_header_snippet(array('gateway' => '/tr', 'signing_key' => self::KEY), array());
        self::assertStringContainsString('src="/tr/t.js"', $html);
        self::assertStringContainsString("trackside('track', 'PageView', {})", $html);
        self::assertStringNotContainsString('cart_token', $html);
    }

    public function testWithoutGatewayNothingIsLoaded()
    {
        $html = trackside_header_snippet(array('gateway' => '  ', 'signing_key' => self::KEY), array('cart_id' => 1));
        self::assertStringNotContainsString('<script', $html);
    }

    public function testGatewayUrlIsEscapedInTheAttribute()
    {
        $html = trackside_header_snippet(array('gateway' => 'https://t.example/"><x', 'signing_key' => ''), array());
        self::assertStringNotContainsString('"><x', $html);
        self::assertStringContainsString('&quot;&gt;&lt;x/t.js', $html);
    }

    public function testConfirmationSnippetIsSignedAndCannotCloseTheScript()
    {
        $reference = "XKB</script><script>alert('x')";
        $html = trackside_confirmation_snippet(array('signing_key' => self::KEY),
            array('reference' => $reference, 'value' => '49.9', 'currency' => 'eur', 'cart_id' => 8841));
        self::assertSame(1, substr_count($html, '</script>'));
        self::assertStringContainsString(trackside_sign_purchase(self::KEY, $reference, 49.9, 'EUR'), $html);
        self::assertStringContainsString('"currency":"EUR"', $html);
        self::assertStringContainsString('"value":49.9', $html);
        self::assertStringContainsString(trackside_join_token(self::KEY, 'cart', '8841'), $html);
        self::assertStringNotContainsString(self::KEY, $html);
    }

    public function testConfirmationWithoutSigningKeyIsUnsigned()
    {
        $html = trackside_confirmation_snippet(array(), array('reference' => 'A', 'value' => 1, 'currency' => 'EUR'));
        self::assertStringContainsString("trackside('purchase'", $html);
        self::assertStringNotContainsString('signature', $html);
    }

    public function testConfirmationWithoutAValueRendersNoPurchase()
    {
        foreach (array(array('reference' => 'A', 'currency' => 'EUR'),
                       array('reference' => 'A', 'value' => 'NaN-ish', 'currency' => 'EUR'),
                       array('reference' => ' ', 'value' => 1, 'currency' => 'EUR'),
                       array('reference' => 'A', 'value' => '1e999', 'currency' => 'EUR'),
                       array('reference' => 'A', 'value' => array(1), 'currency' => 'EUR')) as $order) {
            self::assertStringNotContainsString('<script', trackside_confirmation_snippet(array(), $order));
        }
    }

    public function testConsentMappingCookiebot()
    {
        self::assertSame(array('ad_storage' => 'granted', 'ad_user_data' => 'granted',
            'ad_personalization' => 'granted', 'analytics_storage' => 'denied'),
            trackside_consent_from_categories('cookiebot', array('necessary', 'marketing')));
        self::assertSame(array('ad_storage' => 'denied', 'ad_user_data' => 'denied',
            'ad_personalization' => 'denied', 'analytics_storage' => 'granted'),
            trackside_consent_from_categories('cookiebot', array('statistics')));
    }

    public function testConsentMappingOneTrust()
    {
        $state = trackside_consent_from_categories('onetrust', array('C0001', 'C0002', 'C0004'));
        self::assertSame('granted', $state['ad_storage']);
        self::assertSame('granted', $state['analytics_storage']);
        $state = trackside_consent_from_categories('onetrust', array('C0001'));
        self::assertSame(array('denied'), array_values(array_unique(array_values($state))));
        self::assertSame(array(), trackside_consent_from_categories('unknown-banner', array('C0004')));
    }

    public function testTheConsentMappingReachesThePage()
    {
        $html = trackside_header_snippet(array('gateway' => '/tr', 'consent_wait_ms' => 1200), array());
        self::assertStringContainsString('"wait":1200', $html);
        self::assertStringContainsString('"C0004":["ad_storage","ad_user_data","ad_personalization"]', $html);
        self::assertStringContainsString('"marketing":["ad_storage"', $html);
    }

    public function testPushPayloadHasThePollersEventId()
    {
        $payload = trackside_push_payload('shop7-', array('reference' => ' XKBKNABJK ', 'value' => 49.899,
            'currency' => 'eur', 'cart_id' => 8841, 'customer_id' => 311, 'email' => 'a@b.example', 'phone' => ''));
        $event = $payload['events'][0];
        self::assertSame('shop7-XKBKNABJK', $event['event_id']);
        self::assertSame('Purchase', $event['event_name']);
        self::assertSame(49.9, $event['order']['value']);
        self::assertSame('EUR', $event['order']['currency']);
        self::assertSame('8841', $event['cart_id']);
        self::assertSame('311', $event['customer_id']);
        self::assertSame(array('external_id' => '311', 'email' => 'a@b.example'), $event['user']);
        // No prefix in the module: the gateway's own prefix rule names the event.
        $event = trackside_push_payload('', array('reference' => 'R1', 'value' => 1, 'currency' => 'EUR'))['events'][0];
        self::assertArrayNotHasKey('event_id', $event);
        self::assertSame('R1', $event['order']['reference']);
    }

    public function testPushNeverThrowsAndGivesUpQuickly()
    {
        // A port nobody listens on, a bad URL, no key: 0, no exception.
        self::assertSame(0, trackside_push('http://127.0.0.1:9', 'k', array('events' => array()), 1.0));
        self::assertSame(0, trackside_push('not a url', 'k', array()));
        self::assertSame(0, trackside_push('https://track.shop.example', '', array()));
        self::assertSame(0, trackside_push('/tr', 'k', array()));  // a path needs the shop's origin
    }

    public function testPushGivesUpOnAGatewayThatNeverAnswers()
    {
        // Listening (the kernel completes the handshake) but never answering: the read
        // timeout ends the push with 0 instead of holding the checkout.
        $server = stream_socket_server('tcp://127.0.0.1:0', $errno, $error);
        self::assertNotFalse($server, $error);
        $address = stream_socket_get_name($server, false);
        try {
            self::assertSame(0, trackside_push('http://' . $address, 'k',
                trackside_push_payload('', array('reference' => 'R', 'value' => 1, 'currency' => 'EUR')), 0.3));
        } finally {
            fclose($server);
        }
    }

    public function testPushReadsTheGatewaysStatus()
    {
        // A one-shot loopback answer, from a child PHP process (php -r).
        $server = stream_socket_server('tcp://127.0.0.1:0', $errno, $error);
        $address = stream_socket_get_name($server, false);
        fclose($server);
        $code = '$s = stream_socket_server("tcp://' . $address . '"); echo "up\n"; $c = stream_socket_accept($s, 10);'
            . ' fread($c, 65536); fwrite($c, "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"); fclose($c);';
        $child = proc_open(array(PHP_BINARY, '-r', $code), array(1 => array('pipe', 'w')), $pipes);
        self::assertIsResource($child);
        self::assertSame("up\n", fgets($pipes[1]));
        $status = trackside_push('http://' . $address, 'k',
            trackside_push_payload('', array('reference' => 'R', 'value' => 1, 'currency' => 'EUR')), 5.0);
        fclose($pipes[1]);
        proc_close($child);
        self::assertSame(202, $status);
    }
}
